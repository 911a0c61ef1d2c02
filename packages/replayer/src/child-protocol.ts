// How the parent talks to its inject child, over Node's IPC channel: the parent names files, the child
// reads them itself and reports progress and results. (Inside the loop, records travel as batches: see
// batch-builder.ts.)
import type { ReplayErrorReason } from "./errors.js";
import type { FileOutcome } from "./output.js";
import type { Speed } from "./speed.js";

/** The record starts a file: the child may re-anchor the clock when the record is already late. */
export const FLAG_FIRST_OF_FILE = 1;
/**
 * The record's bytes are the decoder's own buffer, unconverted: they stay valid until the feed's next
 * flush() (the end of the chunk being decoded), so a target may send them from there without a copy.
 */
export const FLAG_BORROWED = 2;

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
  /** The packet-io addon when it loads, the addon or fail, or node_pcap; unset: SLUICE_PACKET_IO. */
  packetIo?: "auto" | "native" | "pcap";
  /** PACKET_QDISC_BYPASS on the addon's socket (see ReplayOutput.qdiscBypass). */
  qdiscBypass: boolean;
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
  | {
      type: "ready";
      linkType: number;
      mtu: number;
      ethernet: boolean;
      pid: number;
      /** What the handle sends with, and why node_pcap when the addon was allowed but not used. */
      packetIo: "native" | "pcap";
      fallback: string | null;
    }
  | { type: "error"; error: ErrorJson }
  | { type: "progress"; seq: number; packets: number; bytes: number }
  | DoneMessage;

/** A file's outcome as the loop reports it: the error as JSON, and when its first and last sends were. */
export type DoneMessage = { type: "done"; seq: number } & Omit<FileOutcome, "error" | "sendingMs"> & {
    error: ErrorJson | null;
    firstSendMs: number | null;
    lastSendMs: number | null;
  };

export type ParentMessage =
  | { type: "file"; seq: number; path: string }
  | { type: "cancel"; seq: number }
  | { type: "stop" };
