// Messages between a capture child and its parent, over Node's IPC channel. Packets do not travel
// here: they go as a pcap stream over a pipe (fd 3), or into files the child writes itself.
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
}

export type ChildMessage =
  | {
      type: "ready";
      linkType: number;
      snaplen: number;
      pid: number;
      packetIo: "native" | "pcap";
      fanoutGroup: number | null;
    }
  | { type: "error"; error: CaptureErrorJSON }
  /** The capture broke while running (the interface was deleted): the child finishes its output and exits 0. */
  | { type: "lost"; error: CaptureErrorJSON }
  | { type: "warning"; message: string }
  | { type: "stats"; id: number; stats: CaptureStats }
  | { type: "output"; payload: unknown }
  | { type: "stopped"; stats: CaptureStats };

export type ParentMessage = { type: "stats"; id: number } | { type: "stop" };
