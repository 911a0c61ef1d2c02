import type { TimingSummary } from "./child-protocol.js";
import type { ReplayError } from "./errors.js";

/** How one file ended at a sink. */
export interface SinkFileResult {
  packets: number;
  bytes: number;
  failed: number;
  cancelled: boolean;
  error: ReplayError | null;
  timing: TimingSummary | null;
}

/** Where converted, scheduled records go: the inject child or the FIFO stream. */
export interface Sink {
  /** Link type frames must have, or null to take the first file's (FIFO). */
  readonly linkType: number | null;
  /** Largest frame the output takes (MTU plus link header), per frame; Infinity when unlimited. */
  frameLimit(frame: Uint8Array): number;
  /** Starts a file; `onProgress` gets cumulative packets and bytes sent as they go out. */
  beginFile(seq: number, onProgress: (packets: number, bytes: number) => void): void;
  /** Adds one record to the current batch; true when the batch is full and wants `flush()`. */
  add(
    seq: number,
    frame: Uint8Array,
    sendAtNs: number,
    flags: number,
    seconds: number,
    nanoseconds: number,
    originalLength: number,
  ): boolean;
  /** Hands the current batch on, waiting while too much is in flight. */
  flush(): Promise<void>;
  /** Marks the file's end and resolves once every record of it was sent, dropped or given up on. */
  endFile(seq: number): Promise<SinkFileResult>;
  /** Drops the file's remaining records at the next record boundary. */
  cancel(seq: number): void;
  /** True while the sink can take files (the child is alive). */
  readonly alive: boolean;
  close(): Promise<void>;
}
