// Messages between a capture child and its parent, over Node's IPC channel. Packets do not travel
// here: they go as a pcap stream over a pipe (fd 3), or into files the child writes itself.
import type { HandoverCounts } from "./cutover.js";
import type { CaptureErrorReason } from "./errors.js";
import type { LiveOptions } from "./live-handle.js";
import type { CaptureStats } from "./source.js";

/** A CaptureError as it crosses the IPC channel. */
export interface CaptureErrorJSON {
  reason: CaptureErrorReason;
  message: string;
  detail: Record<string, unknown>;
}

/** How a child hands packets on: its output's own settings (`kind` picks the output). */
export type ChildOutputConfig = { kind: string } & Record<string, unknown>;

export interface ChildConfig {
  label: string;
  live: LiveOptions;
  user?: string;
  group?: string;
  output: ChildOutputConfig;
  /**
   * Takes over from a running capture of the same interface: open, report ready, and read nothing until
   * the parent says from which timestamp on ("start-from"); the frames before it are the other child's.
   */
  successor?: boolean;
}

export type ChildMessage =
  | {
      type: "ready";
      linkType: number;
      snaplen: number;
      pid: number;
      packetIo: "native" | "pcap";
      fanoutGroup: number | null;
      /** A time (µs since the epoch) at which the capture, filter set, was already open. */
      openedAtUs: number;
    }
  | { type: "error"; error: CaptureErrorJSON }
  /** The capture broke while running (the interface was deleted): the child finishes its output and exits 0. */
  | { type: "lost"; error: CaptureErrorJSON }
  | { type: "warning"; message: string }
  | { type: "stats"; id: number; stats: CaptureStats; handover: HandoverCounts }
  | { type: "output"; payload: unknown }
  | { type: "stopped"; stats: CaptureStats; handover: HandoverCounts }
  /** The cut a predecessor took (the one asked for, or later if it had passed on later frames already). */
  | { type: "cut"; atUs: number };

export type ParentMessage =
  | { type: "stats"; id: number }
  | { type: "stop" }
  /** From now on keep only the frames stamped before `atUs` (a successor has the rest); answered by "cut". */
  | { type: "cut"; atUs: number }
  /** A successor starts reading, keeping the frames stamped at or after `atUs`. */
  | { type: "start-from"; atUs: number };
