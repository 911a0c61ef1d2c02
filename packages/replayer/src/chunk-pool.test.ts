import { describe, expect, it } from "vitest";
import { ChunkPool } from "./chunk-pool.js";

describe("ChunkPool", () => {
  it("hands a buffer out again only after its reader and every run borrowed from it let go", () => {
    const pool = new ChunkPool();
    const chunk = pool.take(1024);
    const runs = [chunk.subarray(0, 100), chunk.subarray(100, 700)];
    for (const run of runs) pool.hold(run);
    pool.release(chunk.subarray(0, 900));
    pool.release(runs[0]!);
    expect(pool.take(1024).buffer).not.toBe(chunk.buffer);
    pool.release(runs[1]!);
    expect(pool.take(1024).buffer).toBe(chunk.buffer);
  });

  it("ignores buffers it did not hand out, and never gives one smaller than asked", () => {
    const pool = new ChunkPool();
    const stranger = Buffer.alloc(64);
    pool.hold(stranger);
    pool.release(stranger);
    pool.release(stranger);
    expect(pool.take(64).buffer).not.toBe(stranger.buffer);
    const small = pool.take(512);
    pool.release(small);
    const big = pool.take(4096);
    expect(big.length).toBeGreaterThanOrEqual(4096);
    expect(big.buffer).not.toBe(small.buffer);
  });

  it("keeps at most `keep` free buffers", () => {
    const pool = new ChunkPool(2);
    const taken = [pool.take(16), pool.take(16), pool.take(16)];
    for (const b of taken) pool.release(b);
    const again = [pool.take(16), pool.take(16), pool.take(16)].map((b) => b.buffer);
    expect(again.filter((b) => taken.some((t) => t.buffer === b))).toHaveLength(2);
  });
});
