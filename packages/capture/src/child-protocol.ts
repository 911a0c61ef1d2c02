// Messages between a capture child and its parent, over Node's IPC channel. Packets do not travel
// here: they go as a pcap stream over a pipe (fd 3), or into files the child writes itself.
import type { CaptureErrorReason } from "./errors.js";
import type { LiveOptions } from "./live-handle.js";
import type { CaptureStats } from "./source.js";

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
  | { type: "error"; error: { reason: CaptureErrorReason; message: string; detail: Record<string, unknown> } }
  | { type: "warning"; message: string }
  | { type: "stats"; id: number; stats: CaptureStats }
  | { type: "output"; payload: unknown }
  | { type: "stopped"; stats: CaptureStats };

export type ParentMessage = { type: "stats"; id: number } | { type: "stop" };
