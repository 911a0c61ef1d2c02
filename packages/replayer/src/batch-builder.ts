import { BATCH_HEADER, FRAME_BATCH, FRAME_END, FRAME_PREFIX, RECORD_HEADER } from "./child-protocol.js";

/** Bytes per batch of records. */
export const BATCH_BYTES = 256 * 1024;

/**
 * Packs records into batch frames `[u32 bodyLength][u8 kind][u32 seq][u32 count]` followed by
 * `[f64 sendAtNs][u32 length][u32 flags][bytes]` per record: what the inject loop sends from.
 */
export class BatchBuilder {
  private batch: Buffer;
  private offset = FRAME_PREFIX + BATCH_HEADER;
  private count = 0;
  /** Batches completed and not yet taken. */
  readonly sealed: Buffer[] = [];

  /**
   * `pool` holds batch buffers done with (see `recycle`): reusing them keeps fresh 256 KiB allocations,
   * and the garbage collections their external memory triggers, off the hot path.
   */
  constructor(
    private readonly seq: number,
    private readonly pool: Buffer[] = [],
  ) {
    this.batch = this.fresh();
  }

  private fresh(): Buffer {
    return this.pool.pop() ?? Buffer.allocUnsafe(BATCH_BYTES);
  }

  /** Adds the record at `buf[start, start + length)`; true when a batch was completed by it. */
  add(buf: Uint8Array, start: number, length: number, sendAtNs: number, flags: number): boolean {
    const needed = RECORD_HEADER + length;
    let sealed = false;
    if (this.count > 0 && this.offset + needed > this.batch.length) {
      this.seal();
      sealed = true;
    }
    if (FRAME_PREFIX + BATCH_HEADER + needed > this.batch.length) {
      this.batch = Buffer.allocUnsafe(FRAME_PREFIX + BATCH_HEADER + needed);
    }
    const b = this.batch;
    const o = this.offset;
    b.writeDoubleLE(sendAtNs, o);
    b.writeUInt32LE(length, o + 8);
    b.writeUInt32LE(flags, o + 12);
    copyBytes(buf, b, o + RECORD_HEADER, start, length);
    this.offset = o + needed;
    this.count++;
    return sealed;
  }

  /** Completes the batch being filled, if it has records. */
  seal(): void {
    if (this.count === 0) return;
    const frame = this.batch.subarray(0, this.offset);
    frame.writeUInt32LE(this.offset - FRAME_PREFIX, 0);
    frame[4] = FRAME_BATCH;
    frame.writeUInt32LE(this.seq, FRAME_PREFIX);
    frame.writeUInt32LE(this.count, FRAME_PREFIX + 4);
    this.sealed.push(frame);
    this.batch = this.fresh();
    this.offset = FRAME_PREFIX + BATCH_HEADER;
    this.count = 0;
  }

  /** Records added and not yet taken. */
  get pending(): boolean {
    return this.count > 0 || this.sealed.length > 0;
  }

  /** Takes the completed batches. */
  take(): Buffer[] {
    return this.sealed.splice(0);
  }
}

/** The frame that marks the end of file `seq`. */
export function endFrame(seq: number): Buffer {
  const end = Buffer.alloc(FRAME_PREFIX + 4);
  end.writeUInt32LE(4, 0);
  end[4] = FRAME_END;
  end.writeUInt32LE(seq, FRAME_PREFIX);
  return end;
}

/** Puts a sent batch's buffer back into `pool` (only buffers of the standard size; at most `keep`). */
export function recycle(frame: Buffer, pool: Buffer[], keep = 8): void {
  if (frame.byteOffset === 0 && frame.buffer.byteLength === BATCH_BYTES && pool.length < keep) {
    pool.push(Buffer.from(frame.buffer, 0, BATCH_BYTES));
  }
}

/** Copies without making a view: Buffer's native copy takes any Uint8Array as its source. */
export function copyBytes(
  source: Uint8Array,
  target: Buffer,
  at: number,
  start: number,
  length: number,
): void {
  Buffer.prototype.copy.call(source, target, at, start, start + length);
}
