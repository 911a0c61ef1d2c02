import { describe, expect, it } from "vitest";
import { FrameReader } from "./frame-reader.js";

const frame = (kind: number, body: string): Buffer => {
  const b = Buffer.alloc(5 + body.length);
  b.writeUInt32LE(body.length, 0);
  b[4] = kind;
  b.write(body, 5);
  return b;
};

describe("FrameReader", () => {
  it("cuts frames out of a stream split at arbitrary points", () => {
    const stream = Buffer.concat([frame(1, "hello"), frame(2, ""), frame(1, "x".repeat(300))]);
    for (const step of [1, 3, 7, 64, stream.length]) {
      const reader = new FrameReader();
      const got: string[] = [];
      for (let i = 0; i < stream.length; i += step) {
        for (const f of reader.push(stream.subarray(i, i + step)))
          got.push(`${f[4]}:${f.subarray(5).toString()}`);
      }
      expect(got).toEqual(["1:hello", "2:", `1:${"x".repeat(300)}`]);
    }
  });
});
