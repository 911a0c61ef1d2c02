import type { TimingSummary } from "./child-protocol.js";
import type { ReplayError } from "./errors.js";

/** How one file ended at an output. */
export interface FileOutcome {
  packets: number;
  bytes: number;
  failed: number;
  skipped: { oversize: number; unsupported: number };
  truncated: number;
  cancelled: boolean;
  error: ReplayError | null;
  timing: TimingSummary | null;
  /** From the first record sent to the last. */
  sendingMs: number;
}

/** Where a Replayer's files go: the inject child of an interface, or the FIFO stream. */
export interface Output {
  /** False once the output cannot take files any more (its child died): the Replayer opens a new one. */
  readonly alive: boolean;
  /** Replays one file; `onProgress` gets cumulative packets and bytes as they go out. */
  replay(
    seq: number,
    path: string,
    onProgress: (packets: number, bytes: number) => void,
  ): Promise<FileOutcome>;
  /** Drops the file's remaining records at the next record boundary. */
  cancel(seq: number): void;
  close(): Promise<void>;
}
