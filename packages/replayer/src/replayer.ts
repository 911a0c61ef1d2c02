import { ReplayError } from "./errors.js";
import type { Speed } from "./speed.js";
import type { FileReplayStats, ReplayerStats, ReplayProgress } from "./stats.js";

/** Where replayed records go: an interface (optionally inside a network namespace) or a FIFO. */
export type ReplayOutput =
  | { type: "interface"; interface: string; netns?: string }
  | { type: "fifo"; path: string };

/** How a Replayer sends. */
export interface ReplayerOptions {
  output: ReplayOutput;
  /** Default original 1x. */
  speed?: Speed;
  /** Original mode: cap on any gap, inside and between files (default 5000). */
  maxGapMs?: number;
  /** Frames over MTU + link header: count and skip (default) or truncate. */
  oversize?: "skip" | "truncate";
  /** Used when SLL/SLL2/raw-IP records become Ethernet frames. */
  macs?: { src: string; dst: string };
}

/** Options of one replayFile call. */
export interface ReplayFileOptions {
  signal?: AbortSignal;
  onProgress?: (progress: ReplayProgress) => void;
}

/** Replays capture files into an interface or a FIFO, one continuous timeline across files. */
export class Replayer {
  constructor(readonly options: ReplayerOptions) {}

  /** Opens the interface (its own child process) or creates the FIFO; rejects with ReplayError. */
  async start(): Promise<void> {
    throw new ReplayError("bad-option", "not implemented yet");
  }

  /** Replays one file; consecutive calls form one timeline. */
  async replayFile(_path: string, _options: ReplayFileOptions = {}): Promise<FileReplayStats> {
    throw new ReplayError("bad-option", "not implemented yet");
  }

  /** Cumulative stats since start. */
  stats(): ReplayerStats {
    return {
      files: 0,
      packetsSent: 0,
      bytesSent: 0,
      skipped: { oversize: 0, unsupported: 0 },
      truncated: 0,
      failed: 0,
    };
  }

  /** Stops at a record boundary; resolves when the output is closed. */
  async stop(): Promise<void> {}
}
