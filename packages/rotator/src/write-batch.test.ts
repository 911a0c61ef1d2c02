import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChildContext } from "@sluice/capture/child";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FileManifest, type RotationPolicy, Rotator } from "./index.js";
import { RotatingOutput } from "./rotating-output.js";

// Batches are cut at random places: print the seed, and take ROTATOR_BATCH_SEED to replay a failure.
const seed = Number(process.env["ROTATOR_BATCH_SEED"] ?? Date.now() % 1_000_000);
console.log(`write-batch tests: ROTATOR_BATCH_SEED=${seed}`);

function random(start: number): () => number {
  let state = start >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// A captured stream as the addon lays it out: records back to back (host byte order, microseconds).
function makeStream(packets: number, next: () => number): { bytes: Buffer; offsets: Uint32Array } {
  const sizes = Array.from({ length: packets }, () => 42 + Math.floor(next() * 1500));
  const bytes = Buffer.alloc(sizes.reduce((a, n) => a + 16 + n, 0));
  const offsets = new Uint32Array(packets + 1);
  let at = 0;
  sizes.forEach((size, i) => {
    offsets[i] = at;
    bytes.writeUInt32LE(1_700_000_000 + Math.floor(i / 997), at);
    bytes.writeUInt32LE((i * 1009) % 1_000_000, at + 4);
    bytes.writeUInt32LE(size, at + 8);
    bytes.writeUInt32LE(size + (i % 3), at + 12);
    bytes.fill(i & 0xff, at + 16, at + 16 + size);
    bytes.writeUInt32BE(i, at + 16);
    at += 16 + size;
  });
  offsets[packets] = at;
  return { bytes, offsets };
}

let root = "";
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "write-batch-"));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function rotated(
  policy: RotationPolicy,
  write: (rotator: Rotator) => void,
): Promise<{ files: FileManifest[]; records: Buffer[] }> {
  const dir = mkdtempSync(join(root, "d"));
  const rotator = new Rotator({ dir, source: "s", fsync: false, policy: { seconds: 3600, ...policy } });
  const files: FileManifest[] = [];
  rotator.on("file", (m) => files.push(m));
  rotator.setFormat(1, 65535);
  rotator.start();
  write(rotator);
  await rotator.stop();
  files.sort((a, b) => a.sequence! - b.sequence!);
  return { files, records: files.map((f) => readFileSync(f.path).subarray(24)) };
}

// The stream handed over in batches of random sizes, each copied into one reused buffer (as the addon
// reuses its buffer), with offsets relative to that buffer.
function inBatches(stream: { bytes: Buffer; offsets: Uint32Array }, next: () => number, largest: number) {
  const scratch = Buffer.alloc(stream.bytes.length);
  const offsets = new Uint32Array(largest + 1);
  return (rotator: Rotator): void => {
    const total = stream.offsets.length - 1;
    for (let first = 0; first < total; ) {
      const count = Math.min(total - first, 1 + Math.floor(next() * largest));
      const base = stream.offsets[first]!;
      for (let i = 0; i <= count; i++) offsets[i] = stream.offsets[first + i]! - base;
      scratch.fill(0xee);
      stream.bytes.copy(scratch, 0, base, stream.offsets[first + count]);
      rotator.writeBatch(scratch, offsets, count);
      first += count;
    }
  };
}

function oneByOne(stream: { bytes: Buffer; offsets: Uint32Array }) {
  return (rotator: Rotator): void => {
    for (let i = 0; i + 1 < stream.offsets.length; i++) {
      const at = stream.offsets[i]!;
      const header = stream.bytes.subarray(at, at + 16);
      rotator.writeRecord(header, stream.bytes.subarray(at + 16), header.readUInt32LE(8));
    }
  };
}

const time = (b: Buffer, at: number): string =>
  `${b.readUInt32LE(at)}.${String(b.readUInt32LE(at + 4) * 1000).padStart(9, "0")}`;

describe("writing batches", () => {
  const policies: [string, RotationPolicy][] = [
    ["a packet count", { packets: 337 }],
    ["a size", { mib: 0.3 }],
    ["a count and a size", { packets: 450, mib: 0.5 }],
  ];

  it.each(policies)(
    "cuts batches that straddle %s into the files record-by-record writes make, byte for byte",
    async (_, policy) => {
      const next = random(seed);
      const stream = makeStream(5000, next);
      const batched = await rotated(policy, inBatches(stream, next, 700));
      const single = await rotated(policy, oneByOne(stream));
      expect(batched.files.length).toBeGreaterThan(3);
      expect(Buffer.concat(batched.records).equals(stream.bytes)).toBe(true);
      expect(batched.records.map((r) => r.toString("hex"))).toEqual(
        single.records.map((r) => r.toString("hex")),
      );
      const facts = (m: FileManifest) => [m.packets, m.bytes, m.firstPacketTime, m.lastPacketTime, m.reason];
      expect(batched.files.map(facts)).toEqual(single.files.map(facts));
      // Each manifest's count and times are its own records'.
      let record = 0;
      for (const [i, file] of batched.files.entries()) {
        const first = stream.offsets[record]!;
        record += file.packets;
        const last = stream.offsets[record - 1]!;
        expect(file.firstPacketTime).toBe(time(stream.bytes, first));
        expect(file.lastPacketTime).toBe(time(stream.bytes, last));
        expect(batched.records[i]!.length).toBe(stream.offsets[record]! - first);
      }
      if (policy.packets && !policy.mib) {
        expect(batched.files.slice(0, -1).every((f) => f.packets === policy.packets)).toBe(true);
      }
    },
  );

  it("takes the first maxPackets of a batch in a capture child's output, and says the count is reached", async () => {
    const dir = join(root, "count");
    mkdirSync(dir);
    const messages: unknown[] = [];
    const context = {
      config: {
        label: "c",
        live: {},
        output: {
          kind: "rotate",
          dir,
          policy: { seconds: 3600, packets: 400 },
          fsync: false,
          maxPackets: 1234,
        },
      },
      linkType: 1,
      snaplen: 65535,
      packetIo: "native",
      send: (payload: unknown) => messages.push(payload),
      warn: () => {},
    } as unknown as ChildContext;
    const output = new RotatingOutput(context);
    const stream = makeStream(2000, random(seed + 1));
    inBatches(
      stream,
      random(seed + 2),
      500,
    )({
      writeBatch: (b: Buffer, o: Uint32Array, n: number) => output.batch(b, o, n),
    } as unknown as Rotator);
    await output.close({ received: 2000, droppedByKernel: 0, droppedByInterface: 0 });
    expect(output.captured).toBe(1234);
    const files = messages.flatMap((m) =>
      (m as { type: string }).type === "file" ? [(m as { manifest: FileManifest }).manifest] : [],
    );
    files.sort((a, b) => a.sequence! - b.sequence!);
    expect(files.map((f) => f.packets)).toEqual([400, 400, 400, 34]);
    const written = Buffer.concat(files.map((f) => readFileSync(f.path).subarray(24)));
    expect(written.equals(stream.bytes.subarray(0, stream.offsets[1234]))).toBe(true);
    expect(messages.filter((m) => (m as { type: string }).type === "count-reached")).toEqual([
      { type: "count-reached", packets: 1234 },
    ]);
  });
});
