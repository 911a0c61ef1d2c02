import { endianness } from "node:os";
import { describe, expect, it } from "vitest";
import type { HandleStats, PacketOutput } from "./child-runtime.js";
import { CutoverOutput } from "./cutover.js";

const SECOND = 1_700_000_000;

/** Records as the addon lays them out: host-order pcap headers (seconds, µs) then `length` bytes of `id`. */
function batchOf(stamps: number[], length = 20): { buffer: Buffer; offsets: Uint32Array } {
  const buffer = Buffer.alloc(stamps.length * (16 + length));
  const offsets = new Uint32Array(stamps.length + 1);
  const le = endianness() === "LE";
  stamps.forEach((us, i) => {
    const at = i * (16 + length);
    offsets[i] = at;
    const write = (value: number, o: number) =>
      le ? buffer.writeUInt32LE(value, at + o) : buffer.writeUInt32BE(value, at + o);
    write(SECOND + Math.floor(us / 1e6), 0);
    write(us % 1e6, 4);
    write(length, 8);
    write(length, 12);
    buffer.fill(i, at + 16, at + 16 + length);
  });
  offsets[stamps.length] = buffer.length;
  return { buffer, offsets };
}

/** An output that records which records (by their fill byte) reached it, and through which path. */
function recorder(withBatch: boolean): PacketOutput & { ids: number[]; calls: number } {
  const out = {
    captured: 0,
    dropped: 0,
    ids: [] as number[],
    calls: 0,
    packet(_header: Buffer, data: Buffer): void {
      out.ids.push(data[0]!);
      out.captured++;
    },
    tick(_stats: HandleStats): void {},
    async close(_stats: HandleStats): Promise<void> {},
  };
  if (!withBatch) return out;
  return Object.assign(out, {
    batch(buffer: Buffer, offsets: Uint32Array, count: number): void {
      out.calls++;
      // The records must lie back to back from offsets[0] to offsets[count].
      let at = offsets[0]!;
      for (let i = 0; i < count; i++) {
        expect(offsets[i]).toBe(at);
        out.ids.push(buffer[at + 16]!);
        at = offsets[i + 1]!;
      }
      out.captured += count;
    },
  });
}

const us = (s: number) => s * 1e6;

describe("CutoverOutput", () => {
  it("passes every batch through untouched while no cut is set", () => {
    const inner = recorder(true);
    const out = new CutoverOutput(inner);
    const { buffer, offsets } = batchOf([0, 5, 3, 9]);
    out.batch(buffer, offsets, 4);
    expect(inner.ids).toEqual([0, 1, 2, 3]);
    expect(inner.calls).toBe(1);
  });

  it("a successor keeps the frames stamped at or after its cut, out of order too, and counts the rest", () => {
    const inner = recorder(true);
    const out = new CutoverOutput(inner);
    out.startFrom(us(SECOND) + 100);
    const { buffer, offsets } = batchOf([50, 100, 99, 150, 20, 300]);
    out.batch(buffer, offsets, 6);
    expect(inner.ids).toEqual([1, 3, 5]);
    expect(out.counts).toEqual({ beforeCut: 3, afterCut: 0 });
    expect(out.captured).toBe(3);
  });

  it("a predecessor keeps the frames stamped before the cut it stops at, and counts the others", () => {
    const inner = recorder(true);
    const out = new CutoverOutput(inner);
    expect(out.cutAt(us(SECOND) + 100)).toBe(us(SECOND) + 100);
    const { buffer, offsets } = batchOf([50, 99, 100, 98, 101, 10]);
    out.batch(buffer, offsets, 6);
    expect(inner.ids).toEqual([0, 1, 3, 5]);
    expect(out.counts).toEqual({ beforeCut: 0, afterCut: 2 });
  });

  it("predecessor and successor together keep each frame exactly once", () => {
    const stamps = Array.from({ length: 200 }, (_, i) => (i * 7919) % 1000);
    const cut = us(SECOND) + 500;
    const [old, next] = [recorder(true), recorder(false)];
    const [a, b] = [new CutoverOutput(old), new CutoverOutput(next)];
    a.cutAt(cut);
    b.startFrom(cut);
    const { buffer, offsets } = batchOf(stamps);
    a.batch(buffer, offsets, stamps.length);
    b.batch(buffer, offsets, stamps.length); // an output without batch gets the records one by one
    expect([...old.ids, ...next.ids].sort((x, y) => x - y)).toEqual(
      stamps.map((_, i) => i % 256).sort((x, y) => x - y),
    );
    expect(a.counts.afterCut).toBe(next.ids.length);
    expect(b.counts.beforeCut).toBe(old.ids.length);
  });

  it("a predecessor that passed on a frame stamped after the cut asked for cuts just after it instead", () => {
    const inner = recorder(true);
    const out = new CutoverOutput(inner);
    const first = batchOf([10, 400, 300]);
    out.batch(first.buffer, first.offsets, 3); // the batch's last record says how far it got
    expect(out.cutAt(us(SECOND) + 200)).toBe(us(SECOND) + 301);
    const next = batchOf([250, 300, 301, 500]);
    out.batch(next.buffer, next.offsets, 4);
    expect(inner.ids).toEqual([0, 1, 2, 0, 1]);
    expect(out.counts.afterCut).toBe(2);
  });

  it("checks node_pcap's single packets against the cut too", () => {
    const inner = recorder(true);
    const out = new CutoverOutput(inner);
    out.startFrom(us(SECOND) + 10);
    const { buffer, offsets } = batchOf([5, 15]);
    for (let i = 0; i < 2; i++) {
      const at = offsets[i]!;
      out.packet(buffer.subarray(at, at + 16), buffer.subarray(at + 16, offsets[i + 1]));
    }
    expect(inner.ids).toEqual([1]);
    expect(out.counts.beforeCut).toBe(1);
  });

  it("takes nothing once closed: node_pcap calls back until the child exits, and no new file may open", async () => {
    const inner = recorder(true);
    const out = new CutoverOutput(inner);
    await out.close({ received: 0, droppedByKernel: 0, droppedByInterface: 0 });
    const { buffer, offsets } = batchOf([1, 2]);
    out.batch(buffer, offsets, 2);
    out.packet(buffer.subarray(0, 16), buffer.subarray(16, offsets[1]));
    expect(inner.ids).toEqual([]);
  });
});
