import { readFile, unlink } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { SpoolError, unlessMissing } from "./errors.js";
import { entryKind } from "./file-name.js";
import { writeFileAtomic } from "./write-file.js";

/** The name a node's heartbeat has in its incoming folder unless configured otherwise. */
export const DEFAULT_HEARTBEAT_FILE = ".sluice-node-heartbeat";

/** What a node's heartbeat file says: who wrote it, when, and how much it has still to replay. */
export interface Heartbeat {
  pid: number;
  hostname: string;
  /** When it was written, ISO 8601 (the node's clock). */
  time: string;
  /** Counts up with every beat of one process, so a reader sees a change whatever the clocks say. */
  seq: number;
  /** Files waiting in the node's queue, when known. */
  queue: number | null;
}

/** Options of a HeartbeatWriter. */
export interface HeartbeatWriterOptions {
  /** The folder to beat in (a node's incoming folder). */
  dir: string;
  /** A hidden name (starting with a dot), so no queue takes it for a capture (default `.sluice-node-heartbeat`). */
  file?: string;
  /** How often it is rewritten (default 5 s). */
  intervalMs?: number;
  /** Files waiting, written into each beat. */
  queue?: () => number | null;
  /** Told when a beat cannot be written (the next one is tried anyway). */
  onError?: (error: unknown) => void;
}

/**
 * Writes a heartbeat file into a folder every interval, atomically (hidden name, rename), so whoever reads
 * it over NFS sees one whole beat. The master reads it to tell a live node from a dead one; stop removes
 * it, so a node stopped on purpose is seen as gone at once.
 */
export class HeartbeatWriter {
  readonly path: string;
  private readonly intervalMs: number;
  private timer: NodeJS.Timeout | null = null;
  private seq = 0;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly options: HeartbeatWriterOptions) {
    const file = options.file ?? DEFAULT_HEARTBEAT_FILE;
    if (entryKind(file) !== "ignored" || file.includes("/")) {
      throw new SpoolError(
        "bad-option",
        `a heartbeat file needs a hidden name such as ${DEFAULT_HEARTBEAT_FILE}, not ${file}`,
        { option: "file" },
      );
    }
    this.path = join(options.dir, file);
    this.intervalMs = options.intervalMs ?? 5000;
  }

  /** Writes the first beat (resolves once it is there) and keeps beating. */
  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => void this.beat(), this.intervalMs);
    this.timer.unref?.();
  }

  /** Stops beating and removes the file. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.writing;
    await unlink(this.path).catch(() => {});
  }

  /** Writes one beat now. */
  beat(): Promise<void> {
    const beat: Heartbeat = {
      pid: process.pid,
      hostname: hostname(),
      time: new Date().toISOString(),
      seq: ++this.seq,
      queue: this.options.queue?.() ?? null,
    };
    this.writing = this.writing
      .then(() => writeFileAtomic(this.path, `${JSON.stringify(beat)}\n`, { fsync: false }))
      .then(
        () => {},
        (error: unknown) => this.options.onError?.(error),
      );
    return this.writing;
  }
}

/** Reads a heartbeat file: null when there is none; a text that is no heartbeat is an error. */
export async function readHeartbeat(path: string): Promise<Heartbeat | null> {
  const text = await unlessMissing(readFile(path, "utf8"));
  if (text === null) return null;
  const value = JSON.parse(text) as Partial<Heartbeat>;
  if (typeof value.time !== "string" || typeof value.seq !== "number" || typeof value.pid !== "number") {
    throw new SpoolError("io", `${path} is not a heartbeat (it needs time, seq and pid)`, { path });
  }
  return {
    pid: value.pid,
    hostname: String(value.hostname ?? ""),
    time: value.time,
    seq: value.seq,
    queue: typeof value.queue === "number" ? value.queue : null,
  };
}
