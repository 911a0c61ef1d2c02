// A FIFO as a Replayer output: files are read in this process and their records streamed into the pipe
// (fifo-sink.ts); the FIFO is created when missing.
import { execFile } from "node:child_process";
import { statSync } from "node:fs";
import { promisify } from "node:util";
import { ReplayError } from "./errors.js";
import { FifoSink } from "./fifo-sink.js";
import type { FileOutcome, Output } from "./output.js";
import { type FeedContext, FileFeeder, type RecordTarget } from "./record-feed.js";

/** Creates the FIFO when missing; a path that exists but is no FIFO is a "fifo-failed" error. */
export async function ensureFifo(path: string): Promise<void> {
  try {
    if (statSync(path).isFIFO()) return;
    throw new ReplayError("fifo-failed", `${path} exists and is not a FIFO`, { path });
  } catch (error) {
    if (ReplayError.isInstance(error)) throw error;
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new ReplayError("fifo-failed", `cannot check ${path}: ${(error as Error).message}`, { path });
    }
  }
  try {
    await promisify(execFile)("mkfifo", ["-m", "0600", path]);
  } catch (error) {
    const text = `${(error as { stderr?: string }).stderr ?? (error as Error).message}`.trim();
    const reason = /permission denied/i.test(text) ? "permission-denied" : "fifo-failed";
    throw new ReplayError(reason, `mkfifo ${path} failed: ${text}`, { path });
  }
}

/** A FIFO as a Replayer output: files are read here and streamed into the pipe. */
export class FifoOutput implements Output {
  private readonly sink: FifoSink;
  private readonly cancelled = new Set<number>();

  constructor(
    path: string,
    precision: "micro" | "nano",
    private readonly context: FeedContext,
  ) {
    this.sink = new FifoSink(path, precision);
  }

  get alive(): boolean {
    return this.sink.alive;
  }

  /** Readers that took the stream so far (each got a global header). */
  get readers(): number {
    return this.sink.readers;
  }

  async replay(
    seq: number,
    path: string,
    onProgress: (packets: number, bytes: number) => void,
  ): Promise<FileOutcome> {
    const sink = this.sink;
    sink.beginFile(seq, onProgress);
    const target: RecordTarget = {
      linkType: (first) => {
        sink.linkType ??= first;
        return sink.linkType;
      },
      frameLimit: () => sink.frameLimit(),
      add: sink.add,
    };
    const feeder = new FileFeeder(this.context, target, path);
    while (!feeder.done && !this.cancelled.has(seq)) {
      await feeder.next();
      await sink.flush();
    }
    if (!feeder.done) await feeder.close();
    const result = await sink.endFile(seq);
    const wasCancelled = this.cancelled.delete(seq);
    const cancelled = result.cancelled || wasCancelled;
    const error = result.error ?? feeder.error;
    if (cancelled || result.error) {
      this.context.timeline.reset();
    }
    return { ...result, cancelled, error, ...feeder.feed.counts };
  }

  cancel(seq: number): void {
    this.cancelled.add(seq);
    this.sink.cancel(seq);
  }

  close(): Promise<void> {
    return this.sink.close();
  }
}
