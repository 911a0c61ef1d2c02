import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LinkType, PcapWriter } from "@sluice/pcap-format";
import { describe, expect, it } from "vitest";
import { ChunkPool } from "./chunk-pool.js";
import { FileFeeder, feedContext, type RecordTarget } from "./record-feed.js";

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

describe("FileFeeder with a ChunkPool", () => {
  it("hands every buffer it read into back, the end of file's read included, when nothing borrowed them", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sluice-chunk-pool-"));
    try {
      // 3000 frames of 1000 bytes: three 1 MiB chunks.
      const path = join(dir, "three-chunks.pcap");
      const writer = PcapWriter.create(path, { linkType: LinkType.ETHERNET });
      for (let i = 0; i < 3000; i++)
        writer.writePacket({ seconds: i, nanoseconds: 0, data: Buffer.alloc(1000, i) });
      writer.flushSync();
      await writer.close();
      const pool = new ChunkPool();
      const given: ArrayBufferLike[] = [];
      const take = pool.take;
      pool.take = (size) => {
        const buffer = take(size);
        given.push(buffer.buffer);
        return buffer;
      };
      const context = feedContext({
        speed: { kind: "topspeed" },
        maxGapMs: 1000,
        macs: { src: "02:00:00:00:00:01", dst: "02:00:00:00:00:02" },
        oversize: "skip",
      });
      let frames = 0;
      const target: RecordTarget = {
        linkType: (first) => first,
        frameLimit: () => 65535,
        add: () => {
          frames++;
          return false;
        },
      };
      const feeder = new FileFeeder(context, target, path, pool);
      while (!feeder.done) await feeder.next();
      expect(frames).toBe(3000);
      // Each read went into the buffer the previous one handed back: one buffer for the whole file.
      expect(new Set(given).size).toBe(1);
      expect(given.length).toBeGreaterThanOrEqual(4);
      expect(pool.take(1024 * 1024).buffer).toBe(given[0]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
