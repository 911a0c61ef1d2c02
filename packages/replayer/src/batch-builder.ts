import type { ChunkPool } from "./chunk-pool.js";

/** Bytes of frames per batch. */
export const BATCH_BYTES = 256 * 1024;
/** Records per batch at most (small frames fill the count before the bytes). */
export const BATCH_RECORDS = 4096;
/** Records per borrowed run at most (see BatchBuilder.borrow): about a 1 MiB chunk's worth. */
export const RUN_RECORDS = 2048;
/** Send times and flags of every borrowed run: topspeed, none. */
const NO_SEND_TIMES = new Float64Array(RUN_RECORDS).fill(Number.NaN);
const NO_FLAGS = new Uint8Array(RUN_RECORDS);

/**
 * Records ready to send, laid out as the native inject socket takes them: the frames packed one after
 * another in `bytes`, `positions` holding `[start, length]` of each, and beside them each record's send
 * time and flags. One native call sends any run of them.
 */
export interface Batch {
  readonly kind: "batch";
  seq: number;
  count: number;
  /** The batch's own buffer, or (a borrowed run) the decoder's buffer the frames are in. */
  readonly bytes: Uint8Array;
  /** `[start, length]` of record i at `[2i, 2i + 1]` (a send may shorten a length: see the inject loop). */
  readonly positions: Uint32Array;
  /** Send time of record i, ns on the output's timeline; NaN at topspeed. */
  readonly sendAt: Float64Array;
  /** FLAG_FIRST_OF_FILE and the like, per record. */
  readonly flags: Uint8Array;
}

/** The end of file `seq`'s records. */
export interface FileEnd {
  readonly kind: "end";
  seq: number;
}

/** What the inject loop's queue holds. */
export type QueueItem = Batch | FileEnd;

function newBatch(seq: number, bytes: number): Batch {
  return {
    kind: "batch",
    seq,
    count: 0,
    bytes: Buffer.allocUnsafe(bytes),
    positions: new Uint32Array(2 * BATCH_RECORDS),
    sendAt: new Float64Array(BATCH_RECORDS),
    flags: new Uint8Array(BATCH_RECORDS),
  };
}

/** Packs one file's records into batches, copied or (at topspeed) borrowed from the decoder's buffers. */
export class BatchBuilder {
  private batch: Batch;
  private used = 0;
  /** The run of borrowed records being gathered, if any. */
  private run: Batch | null = null;
  /** Batches completed and not yet taken. */
  readonly sealed: Batch[] = [];

  /**
   * `pool` holds batches done with (see `recycle`): reusing them keeps fresh 256 KiB allocations, and
   * the garbage collections their external memory triggers, off the hot path. A run borrowed from a
   * buffer of `chunks` holds that buffer until it is recycled.
   */
  constructor(
    private readonly seq: number,
    private readonly pool: Batch[] = [],
    private readonly chunks: ChunkPool | null = null,
  ) {
    this.batch = this.fresh();
  }

  private fresh(): Batch {
    const batch = this.pool.pop() ?? newBatch(this.seq, BATCH_BYTES);
    batch.seq = this.seq;
    batch.count = 0;
    return batch;
  }

  /**
   * Adds the record at `buf[start, start + length)` without copying it: records of one buffer make one
   * run, sent from that buffer. Only for bytes that stay as they are until sent (a decoder's chunk not
   * read into again), and only at topspeed (runs have no send times). True when a run was completed.
   */
  borrow(buf: Uint8Array, start: number, length: number): boolean {
    return this.borrowMany(buf, (run) => {
      run.positions[2 * run.count] = start;
      run.positions[2 * run.count + 1] = length;
      run.count++;
      return false;
    });
  }

  /**
   * Borrows a run of records at once: `take(run)` writes the positions of those it finds into `run`
   * from `run.count` up to RUN_RECORDS, adds them to `run.count` and returns true when it stopped for
   * room only (then a fresh run takes the rest). Returns true when a run was completed.
   */
  borrowMany(buf: Uint8Array, take: (run: Batch) => boolean): boolean {
    let sealed = this.batch.count > 0;
    if (sealed) this.seal();
    for (;;) {
      let run = this.run;
      if (run && (run.bytes !== buf || run.count === RUN_RECORDS)) {
        this.sealRun();
        sealed = true;
        run = null;
      }
      if (!run) {
        run = this.newRun(buf);
        this.run = run;
      }
      if (!take(run)) return sealed;
    }
  }

  private newRun(buf: Uint8Array): Batch {
    this.chunks?.hold(buf);
    return {
      kind: "batch",
      seq: this.seq,
      count: 0,
      bytes: buf,
      positions: new Uint32Array(2 * RUN_RECORDS),
      sendAt: NO_SEND_TIMES,
      flags: NO_FLAGS,
    };
  }

  /** Completes the run being gathered; true when there was one (an empty one is let go). */
  sealRun(): boolean {
    const run = this.run;
    if (!run) return false;
    this.run = null;
    if (run.count === 0) {
      this.chunks?.release(run.bytes);
      return false;
    }
    this.sealed.push(run);
    return true;
  }

  /** Adds the record at `buf[start, start + length)`; true when a batch was completed by it. */
  add(buf: Uint8Array, start: number, length: number, sendAtNs: number, flags: number): boolean {
    let sealed = this.sealRun();
    let b = this.batch;
    if (b.count > 0 && (this.used + length > b.bytes.length || b.count === BATCH_RECORDS)) {
      this.seal();
      sealed = true;
      b = this.batch;
    }
    if (length > b.bytes.length) {
      // A frame bigger than a batch (a 64 KiB offload frame into a big-MTU interface, say) gets its own.
      b = newBatch(this.seq, length);
      this.batch = b;
    }
    const i = b.count;
    b.positions[2 * i] = this.used;
    b.positions[2 * i + 1] = length;
    b.sendAt[i] = sendAtNs;
    b.flags[i] = flags;
    copyBytes(buf, b.bytes, this.used, start, length);
    this.used += length;
    b.count = i + 1;
    return sealed;
  }

  /** Completes the batch being filled (and the run being gathered); true when either had records. */
  seal(): boolean {
    const run = this.sealRun();
    if (this.batch.count === 0) return run;
    this.sealed.push(this.batch);
    this.batch = this.fresh();
    this.used = 0;
    return true;
  }

  /** Records added and not yet taken. */
  get pending(): boolean {
    return this.batch.count > 0 || this.run !== null || this.sealed.length > 0;
  }

  /** Takes the completed batches. */
  take(): Batch[] {
    return this.sealed.splice(0);
  }
}

/** The queue item that marks the end of file `seq`. */
export function fileEnd(seq: number): FileEnd {
  return { kind: "end", seq };
}

/**
 * Puts a batch done with (sent or dropped) back into `pool` (only batches of the standard size; at most
 * `keep`), or lets go of the chunk a borrowed run holds. Once per batch: a chunk released twice would be
 * read into while a run still sends from it.
 */
export function recycle(batch: Batch, pool: Batch[], chunks: ChunkPool | null = null, keep = 8): void {
  if (batch.sendAt === NO_SEND_TIMES) {
    chunks?.release(batch.bytes);
  } else if (batch.bytes.length === BATCH_BYTES && pool.length < keep) {
    pool.push(batch);
  }
}

/** Copies without making a view: Buffer's native copy takes any Uint8Array as its source. */
export function copyBytes(
  source: Uint8Array,
  target: Uint8Array,
  at: number,
  start: number,
  length: number,
): void {
  Buffer.prototype.copy.call(source, target, at, start, start + length);
}
