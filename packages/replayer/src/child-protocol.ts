// How the parent talks to its inject child, over Node's IPC channel: the parent names files, the child
// reads them itself and reports progress and results. Inside the child, records travel as batches of
// length-prefixed frames from the file reader to the inject loop.
import type { ReplayErrorReason } from "./errors.js";
import type { Speed } from "./speed.js";

/** Frame kinds: `[u32 bodyLength][u8 kind][body]`. */
export const FRAME_BATCH = 1;
export const FRAME_END = 2;
/** Bytes before a frame's body: its length and kind. */
export const FRAME_PREFIX = 5;
/** A batch body starts with `[u32 seq][u32 count]`; each record is `[f64 sendAtNs][u32 length][u32 flags][bytes]`. */
export const BATCH_HEADER = 8;
export const RECORD_HEADER = 16;
/** The record starts a file: the child may re-anchor the clock when the record is already late. */
export const FLAG_FIRST_OF_FILE = 1;

/** What the child is started with (argv[2], JSON). */
export interface InjectChildConfig {
  interface: string;
  speed: Speed;
  maxGapMs: number;
  oversize: "skip" | "truncate";
  /** How paced sends wait: sleep until just before each send time, or spin all the way (see Replayer). */
  timer: "sleep" | "spin";
  macs: { src: string; dst: string };
  bufferTimeoutMs: number;
  retry: RetryPolicy;
  /** Percentile samples kept per file (a reservoir beyond that). */
  timingSamples: number;
}

/** Bounded retries of a failing inject, with exponential backoff. */
export interface RetryPolicy {
  attempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

export interface TimingSummary {
  p50: number;
  p99: number;
  max: number;
}

export interface ErrorJson {
  reason: ReplayErrorReason;
  message: string;
  detail: Record<string, unknown>;
}

export type ChildMessage =
  | { type: "ready"; linkType: number; mtu: number; ethernet: boolean; pid: number }
  | { type: "error"; error: ErrorJson }
  | { type: "progress"; seq: number; packets: number; bytes: number }
  | {
      type: "done";
      seq: number;
      packets: number;
      bytes: number;
      failed: number;
      skipped: { oversize: number; unsupported: number };
      truncated: number;
      cancelled: boolean;
      error: ErrorJson | null;
      timing: TimingSummary | null;
      firstSendMs: number | null;
      lastSendMs: number | null;
    };

export type ParentMessage =
  | { type: "file"; seq: number; path: string }
  | { type: "cancel"; seq: number }
  | { type: "stop" };
