import { describe, expect, it } from "vitest";
import { readPackets, verifyCapture } from "./index.js";
import { classicHeader, classicRecord, udpFrame } from "./testing/builders.js";

// A synthetic classic capture of `total` bytes, produced chunk by chunk and never held whole. Chunks come
// from a ring of four buffers, so memory growth measured here is the reader's, not the generator's.
async function* syntheticCapture(total: number, onChunk: () => void): AsyncGenerator<Uint8Array> {
  const records = Buffer.concat(
    Array.from({ length: 2000 }, (_, i) =>
      classicRecord({ seconds: i, fraction: 0, data: udpFrame(60 + ((i * 97) % 1400)) }),
    ),
  );
  yield classicHeader({});
  let sent = 24;
  // Chunks end mid-record so records keep spanning chunk boundaries.
  const chunkSize = (1 << 20) + 333;
  let at = 0;
  const ring = Array.from({ length: 4 }, () => Buffer.allocUnsafe(chunkSize));
  for (let i = 0; sent < total; i++) {
    const chunk = ring[i % ring.length]!;
    for (let filled = 0; filled < chunkSize; ) {
      const n = Math.min(chunkSize - filled, records.length - at);
      records.copy(chunk, filled, at, at + n);
      filled += n;
      at = (at + n) % records.length;
    }
    sent += chunk.length;
    onChunk();
    yield chunk;
  }
}

function rssTracker(): { sample: () => void; growth: () => number } {
  globalThis.gc?.();
  const base = process.memoryUsage.rss();
  let peak = base;
  let n = 0;
  return {
    sample: () => {
      if (n++ % 16 === 0) peak = Math.max(peak, process.memoryUsage.rss());
    },
    growth: () => peak - base,
  };
}

describe("bounded memory", () => {
  it("verifies a 2 GiB stream with flat memory", async () => {
    const rss = rssTracker();
    const result = await verifyCapture(syntheticCapture(2 * 1024 ** 3, rss.sample));
    // The synthetic stream stops on a chunk boundary, mid-record: verify must call it truncated.
    expect(result.error?.reason).toBe("truncated-record");
    expect(result.packets).toBeGreaterThan(2_000_000);
    expect(rss.growth()).toBeLessThan(24 * 1024 ** 2);
  });

  it("streams packets of a 512 MiB capture with flat memory", async () => {
    const rss = rssTracker();
    let packets = 0;
    let bytes = 0;
    await expect(async () => {
      for await (const p of readPackets(syntheticCapture(512 * 1024 ** 2, rss.sample))) {
        packets++;
        bytes += p.data.length;
      }
    }).rejects.toMatchObject({ reason: "truncated-record" });
    expect(packets).toBeGreaterThan(500_000);
    expect(bytes).toBeGreaterThan(480 * 1024 ** 2);
    expect(rss.growth()).toBeLessThan(64 * 1024 ** 2);
  });
});
