// The seam of a gapless restart: two capture children on one interface for a moment, each keeping the
// frames on its side of one timestamp. The kernel stamps a frame once, before handing it to every packet
// socket, so both children see the same time for it and each frame lands with exactly one of them.
import { endianness } from "node:os";
import type { HandleStats, PacketOutput } from "./child-runtime.js";

/** Frames a child saw but left to the other child at a cut (both children captured them). */
export interface HandoverCounts {
  /** Stamped before the cut this child started from: its predecessor keeps them. */
  beforeCut: number;
  /** Stamped at or after the cut this child stopped at: its successor keeps them. */
  afterCut: number;
}

const littleEndian = endianness() === "LE";
// Once a frame stamped this long after the start cut was seen, no frame from before it can still come.
const SETTLED_US = 1_000_000;

/** Microseconds since the epoch of a pcap record header in host byte order (seconds, microseconds). */
function stampUs(buffer: Buffer, at: number): number {
  return littleEndian
    ? buffer.readUInt32LE(at) * 1e6 + buffer.readUInt32LE(at + 4)
    : buffer.readUInt32BE(at) * 1e6 + buffer.readUInt32BE(at + 4);
}

/**
 * An output that passes on only frames stamped in [fromUs, untilUs): the wrapper a capture child puts
 * around its real output. With no cut set, batches pass straight through (one comparison per batch).
 */
export class CutoverOutput implements PacketOutput {
  readonly counts: HandoverCounts = { beforeCut: 0, afterCut: 0 };
  private fromUs = Number.NEGATIVE_INFINITY;
  private untilUs = Number.POSITIVE_INFINITY;
  private checking = false;
  private closed = false;
  /** The latest stamp passed on so far, as far as the last record of each batch tells. */
  private latestUs = 0;

  constructor(private readonly inner: PacketOutput) {}

  get captured(): number {
    return this.inner.captured;
  }

  get dropped(): number {
    return this.inner.dropped;
  }

  get written(): number {
    return this.inner.written ?? this.inner.captured - this.inner.dropped;
  }

  get droppedReasons(): Record<string, number> {
    return this.inner.droppedReasons ?? {};
  }

  /** Keeps only frames stamped at or after `us` (a successor's start). */
  startFrom(us: number): void {
    this.fromUs = us;
    this.checking = true;
  }

  /**
   * Keeps only frames stamped before the cut (a predecessor's) from now on: `us`, or just after the latest
   * frame passed on if that was stamped at or after `us` already (then the successor starts there).
   * Returns the cut taken. The parent picks `us` in the future, so that only happens to a child whose
   * event loop stalled that long.
   */
  cutAt(us: number): number {
    this.untilUs = Math.max(us, this.latestUs + 1);
    this.checking = true;
    return this.untilUs;
  }

  packet(header: Buffer, data: Buffer): void {
    if (this.closed) return;
    const us = stampUs(header, 0);
    if (this.checking && !this.keeps(us)) return;
    if (us > this.latestUs) this.latestUs = us;
    this.inner.packet(header, data);
  }

  batch(buffer: Buffer, offsets: Uint32Array, count: number): void {
    if (this.closed) return;
    if (count === 0) return;
    if (!this.checking) {
      const last = stampUs(buffer, offsets[count - 1]!);
      if (last > this.latestUs) this.latestUs = last;
      this.pass(buffer, offsets, 0, count);
      return;
    }
    // Runs of kept records go on as they lie in the buffer: no copy, one call per run.
    let run = 0;
    for (let i = 0; i < count; i++) {
      if (this.keeps(stampUs(buffer, offsets[i]!))) continue;
      this.pass(buffer, offsets, run, i);
      run = i + 1;
    }
    this.pass(buffer, offsets, run, count);
  }

  tick(stats: HandleStats): void {
    this.inner.tick(stats);
  }

  /**
   * Closes the output. node_pcap's handle cannot be closed and still calls back until the child exits:
   * what comes after the final drain is past the end of the capture, and must not open a new file.
   */
  close(stats: HandleStats): Promise<void> {
    this.closed = true;
    return this.inner.close(stats);
  }

  private keeps(us: number): boolean {
    if (us < this.fromUs) {
      this.counts.beforeCut++;
      return false;
    }
    if (us >= this.untilUs) {
      this.counts.afterCut++;
      return false;
    }
    if (us > this.latestUs) this.latestUs = us;
    if (this.untilUs === Number.POSITIVE_INFINITY && us >= this.fromUs + SETTLED_US) this.checking = false;
    return true;
  }

  // Records [first, end) of a batch.
  private pass(buffer: Buffer, offsets: Uint32Array, first: number, end: number): void {
    if (end <= first) return;
    if (this.inner.batch) {
      this.inner.batch(buffer, first === 0 ? offsets : offsets.subarray(first), end - first);
      return;
    }
    for (let i = first; i < end; i++) {
      const at = offsets[i]!;
      this.inner.packet(buffer.subarray(at, at + 16), buffer.subarray(at + 16, offsets[i + 1]));
    }
  }
}
