import { EventEmitter } from "node:events";
import { mkdir, readdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { PcapFormatReason } from "@sluice/pcap-format";
import {
  Backoff,
  type BackoffPolicy,
  type Clock,
  type IncomingFile,
  type IncomingItem,
  IncomingQueue,
  Journal,
  type Logger,
  type Metrics,
  moveFile,
  removeFile,
  SpoolError,
  setAside,
  sidecarOf,
  silentLogger,
  silentMetrics,
  systemClock,
} from "@sluice/spool";
import { isFileFault, ReplayError } from "./errors.js";
import { type QueueMetrics, queueMetrics } from "./queue-metrics.js";
import { Replayer, type ReplayerOptions } from "./replayer.js";
import { formatSpeed } from "./speed.js";
import type { FileReplayStats } from "./stats.js";

/** What happens to a file once its replay finished. */
export type AfterReplay = { action: "delete" } | { action: "move"; path: string };

/** What a ReplayQueue may change while it runs (see `reconfigure`). */
export interface ReplayQueueSettings {
  /** How files are replayed: output, speed, pacing. A change reopens the output before the next file. */
  replayer: ReplayerOptions;
  /** Default delete. A move never replaces a file there: a clash takes the next name (`x-1.pcap`). */
  after?: AfterReplay;
  /** Folder for files that cannot be replayed, each with `<name>.reason.json`. */
  failed: string;
  /** An incomplete file unchanged this long is given up on and set aside (default 10 s). */
  stableMs?: number;
  /** Also list the folder this often: inotify does not see files other NFS clients write (default 5 s). */
  rescanMs?: number;
  /** Waits while the output is down or a file cannot be deleted or moved (default 1 s doubling to 30 s). */
  retry?: Partial<BackoffPolicy>;
}

/** Options of a ReplayQueue. */
export interface ReplayQueueOptions extends ReplayQueueSettings {
  /** The folder files are delivered to. */
  incoming: string;
  /**
   * Create `incoming` when it is missing (default true). False: start() refuses a missing one with a
   * SpoolError "spool-unwritable", so a mistyped folder is not watched forever while files go elsewhere.
   */
  createIncoming?: boolean;
  /** Holds `replayed.jsonl`, the journal of finished replays. */
  stateDir: string;
  logger?: Logger;
  /** Registers the `sluice_node_*` series (structural: @sluice/daemon's MetricsRegistry fits). */
  metrics?: Metrics;
  /** Time for waits and backoff (a ManualClock in tests). */
  clock?: Clock;
}

/**
 * Why a file went to the failed folder (also the `reason` label of sluice_node_files_failed_total): the
 * verifier's PcapFormatReason for a file that stayed incomplete, the replayer's bad-file or
 * unsupported-linktype, or symlink.
 */
export type FailReason = PcapFormatReason | "symlink" | "incomplete" | "bad-file" | "unsupported-linktype";

/**
 * What a ReplayQueue tells whoever watches it (a status page), one event per log line of the same name.
 */
export interface ReplayQueueEvents {
  "replay-started": [{ file: string; size: number; packets: number }];
  replayed: [{ file: string; packetsSent: number; bytesSent: number; durationMs: number }];
  "file-failed": [{ file: string; reason: FailReason; message: string }];
}

/** A finished replay as the journal keeps it: the same name with another size or time is another file. */
interface ReplayedEntry {
  name: string;
  size: number;
  mtimeMs: number;
  at: string;
}

const JOURNAL_FILE = "replayed.jsonl";
const COMPACT_AFTER = 1000;

/**
 * A sensor node's work as a library: watches `incoming` (@sluice/spool's IncomingQueue), replays the
 * verified captures one after another in capture order (first record, then name) through a Replayer, and
 * deletes or moves each only after its replay finished. A fsynced journal in `stateDir` keeps a kill -9
 * between replay and delete from replaying a file twice. Output failures keep the file and retry with
 * backoff; files that cannot be replayed go to `failed` with a `.reason.json`.
 */
export class ReplayQueue extends EventEmitter<ReplayQueueEvents> {
  private settings: ReplayQueueSettings;
  private readonly incoming: string;
  private readonly stateDir: string;
  private readonly createIncoming: boolean;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly metrics: QueueMetrics;
  private readonly queue: IncomingQueue;
  private journal: Journal<ReplayedEntry> | null = null;
  private readonly finishedFiles = new Map<string, ReplayedEntry>();
  private replayer: Replayer | null = null;
  private replayerKey = "";
  private current: IncomingFile | null = null;
  private loop: Promise<void> = Promise.resolve();
  private readonly stopController = new AbortController();
  private readonly outputBackoff = new Backoff(() => this.retry());
  private readonly fileErrorBackoff = new Backoff(() => this.retry());

  constructor(options: ReplayQueueOptions) {
    super();
    this.settings = options;
    this.incoming = resolve(options.incoming);
    this.stateDir = resolve(options.stateDir);
    this.createIncoming = options.createIncoming ?? true;
    this.log = options.logger ?? silentLogger;
    this.clock = options.clock ?? systemClock;
    const registry = options.metrics ?? silentMetrics;
    this.metrics = queueMetrics(registry);
    registry.onCollect(() => this.collect());
    this.queue = new IncomingQueue({
      path: this.incoming,
      ...this.timing(options),
      clock: this.clock,
      logger: this.log,
    });
  }

  /** Captures waiting in incoming, the one being replayed included. */
  get backlog(): number {
    return this.queue.pending().files;
  }

  /** Reads the journal, lists and watches incoming, and starts replaying. The output opens with the first file. */
  async start(): Promise<void> {
    if (this.createIncoming) await mkdir(this.incoming, { recursive: true });
    else await requireFolder(this.incoming);
    await mkdir(this.settings.failed, { recursive: true });
    if (this.settings.after?.action === "move") await mkdir(this.settings.after.path, { recursive: true });
    await this.openJournal();
    await this.queue.start();
    this.log.info("watching", { incoming: this.incoming, backlog: this.backlog });
    this.loop = this.run().catch((error: unknown) => this.log.error("loop-failed", { error }));
  }

  /**
   * Takes new settings between files: replayer (the output reopens), after, failed, stableMs, rescanMs,
   * retry. `incoming` and `stateDir` cannot change while it runs.
   */
  reconfigure(next: ReplayQueueSettings): void {
    this.settings = { ...this.settings, ...next };
    this.queue.configure(this.timing(next));
    const speed = next.replayer.speed;
    this.log.info("config-reloaded", {
      speed: speed === undefined ? "original" : formatSpeed(speed),
      after: next.after ?? { action: "delete" },
      output: next.replayer.output,
    });
  }

  /** Stops at a record boundary; the file being replayed stays in incoming for the next start. */
  async stop(): Promise<{ pending: number }> {
    this.stopController.abort();
    await this.queue.stop();
    await this.loop;
    await this.closeOutput();
    await this.journal?.close();
    return { pending: this.backlog };
  }

  private timing(settings: ReplayQueueSettings) {
    const stableMs = settings.stableMs ?? 10_000;
    return {
      settleMs: 0,
      rejectAfterMs: stableMs,
      incompleteAfterMs: stableMs,
      rescanMs: settings.rescanMs ?? 5000,
    };
  }

  private retry(): BackoffPolicy {
    return { initialMs: this.settings.retry?.initialMs ?? 1000, maxMs: this.settings.retry?.maxMs ?? 30_000 };
  }

  // The journal lists files whose replay finished; lines of files no longer in incoming are dropped.
  private async openJournal(): Promise<void> {
    const { journal, records } = await Journal.open<ReplayedEntry>(this.stateDir, JOURNAL_FILE);
    this.journal = journal;
    const present = new Set(await readdir(this.incoming));
    for (const entry of records)
      if (typeof entry?.name === "string") this.finishedFiles.set(entry.name, entry);
    for (const name of this.finishedFiles.keys()) if (!present.has(name)) this.finishedFiles.delete(name);
    await journal.compact([...this.finishedFiles.values()]);
    if (this.finishedFiles.size > 0)
      this.log.info("journal-resumed", { finished: [...this.finishedFiles.keys()] });
  }

  private async run(): Promise<void> {
    const stop = this.stopController.signal;
    for (let item = await this.queue.next(stop); item !== null; item = await this.queue.next(stop)) {
      let waitMs = 0;
      try {
        waitMs = await this.take(item);
        this.fileErrorBackoff.reset();
      } catch (error) {
        // A file system error on one file (permissions, a full failed folder): log it and look again
        // later, soon at first (a brief fault), less often while it lasts.
        waitMs = this.fileErrorBackoff.next();
        this.log.error("file-error", { file: item.file.name, error, retryInMs: waitMs });
        this.queue.release(item.file.name);
      }
      if (waitMs > 0) await this.clock.sleep(waitMs, stop);
    }
  }

  /** Handles one item; returns how long to wait before the next (0: at once). */
  private async take(item: IncomingItem): Promise<number> {
    const { file } = item;
    if (item.kind === "refused") {
      if (item.reason === "symlink") {
        this.log.warn("symlink-refused", { file: file.name, target: item.target });
        await this.fail(file, "symlink", {
          target: item.target,
          message: "symlinks in incoming are never followed",
        });
        return 0;
      }
      const check = item.check;
      // The verifier's own reason (truncated-record, bad-magic, ...) and the byte offset it names.
      await this.fail(file, item.reason, {
        offset: check?.error?.offset ?? null,
        message: check?.error?.message ?? "incomplete",
        packets: check?.packets ?? 0,
        validBytes: check?.validBytes ?? 0,
        size: check?.size ?? file.size,
        stableSeconds: (this.settings.stableMs ?? 10_000) / 1000,
      });
      return 0;
    }
    if (this.isFinished(file)) {
      this.log.info("replay-already-finished", { file: file.name });
      await this.finish(file);
      return 0;
    }
    return this.replay(file, item.check.packets);
  }

  private isFinished(file: IncomingFile): boolean {
    const entry = this.finishedFiles.get(file.name);
    return entry !== undefined && entry.size === file.size && entry.mtimeMs === file.mtimeMs;
  }

  private async replay(file: IncomingFile, packets: number): Promise<number> {
    const replayer = await this.openOutput();
    if (replayer === null) {
      this.queue.release(file.name);
      return this.backoff();
    }
    this.current = file;
    this.metrics.currentFile.set({ file: file.name }, 1);
    this.metrics.currentPackets.set({}, 0);
    this.metrics.currentBytes.set({}, 0);
    this.log.info("replay-started", { file: file.name, size: file.size, packets });
    this.emit("replay-started", { file: file.name, size: file.size, packets });
    let stats: FileReplayStats;
    try {
      stats = await replayer.replayFile(file.path, {
        signal: this.stopController.signal,
        onProgress: (p) => {
          this.metrics.currentPackets.set({}, p.packetsSent);
          this.metrics.currentBytes.set({}, p.bytesSent);
        },
      });
    } catch (error) {
      if (!ReplayError.isInstance(error)) throw error;
      const partial = error.stats;
      if (partial) this.count(partial);
      if (error.reason === "stopped") {
        this.log.info("replay-interrupted", { file: file.name, packetsSent: partial?.packetsSent ?? null });
        this.queue.release(file.name);
        return 0;
      }
      if (isFileFault(error.reason)) {
        await this.fail(file, error.reason, {
          message: error.message,
          packetsSent: partial?.packetsSent ?? 0,
        });
        return 0;
      }
      if (error.reason === "bad-option") throw error;
      this.log.warn("output-failed", {
        file: file.name,
        reason: error.reason,
        error,
        packetsSent: partial?.packetsSent ?? 0,
        kept: "the file replays again from its start once the output is back",
      });
      await this.closeOutput();
      this.queue.release(file.name);
      return this.backoff();
    } finally {
      this.current = null;
      this.metrics.currentFile.reset();
      this.metrics.currentPackets.set({}, 0);
      this.metrics.currentBytes.set({}, 0);
    }
    this.count(stats);
    await this.record(file);
    this.metrics.filesReplayed.inc();
    this.outputBackoff.reset();
    this.log.info("replayed", {
      file: file.name,
      packetsSent: stats.packetsSent,
      bytesSent: stats.bytesSent,
      skipped: stats.skipped,
      truncated: stats.truncated,
      failed: stats.failed,
      durationMs: stats.durationMs,
      sendingMs: stats.sendingMs,
      pps: stats.pps,
      mbps: stats.mbps,
      timingErrorUs: stats.timingErrorUs,
    });
    const { packetsSent, bytesSent, durationMs } = stats;
    this.emit("replayed", { file: file.name, packetsSent, bytesSent, durationMs });
    await this.finish(file);
    return 0;
  }

  /** Records a finished replay durably (fsync) before the file is deleted or moved. */
  private async record(file: IncomingFile): Promise<void> {
    const entry: ReplayedEntry = {
      name: file.name,
      size: file.size,
      mtimeMs: file.mtimeMs,
      at: new Date(this.clock.now()).toISOString(),
    };
    this.finishedFiles.set(file.name, entry);
    const journal = this.journal!;
    await journal.append(entry);
    if (journal.backlog > COMPACT_AFTER) await journal.compact([...this.finishedFiles.values()]);
  }

  private count(stats: FileReplayStats): void {
    this.metrics.packetsSent.inc({}, stats.packetsSent);
    this.metrics.bytesSent.inc({}, stats.bytesSent);
    this.metrics.packetsSkipped.inc({ reason: "oversize" }, stats.skipped.oversize);
    this.metrics.packetsSkipped.inc({ reason: "unsupported" }, stats.skipped.unsupported);
    this.metrics.packetsTruncated.inc({}, stats.truncated);
    this.metrics.injectFailed.inc({}, stats.failed);
  }

  private backoff(): number {
    this.metrics.retries.inc();
    return this.outputBackoff.next();
  }

  /** The open replayer for the current settings, or null (logged) when the output cannot be opened now. */
  private async openOutput(): Promise<Replayer | null> {
    const options = this.settings.replayer;
    const key = JSON.stringify(options);
    if (this.replayer !== null && key === this.replayerKey) return this.replayer;
    await this.closeOutput();
    let replayer: Replayer;
    try {
      // The packet-io fallback line (the addon not loading) goes to the queue's logger.
      replayer = new Replayer({ ...options, logger: this.log });
      await replayer.start();
    } catch (error) {
      if (ReplayError.isInstance(error) && error.reason === "bad-option") throw error;
      this.log.warn("output-unavailable", {
        output: options.output,
        reason: ReplayError.isInstance(error) ? error.reason : null,
        error,
        retryInSeconds: this.outputBackoff.peek() / 1000,
      });
      return null;
    }
    this.replayer = replayer;
    this.replayerKey = key;
    this.metrics.outputUp.set({}, 1);
    this.log.info("output-open", {
      output: options.output,
      speed: options.speed === undefined ? "original" : formatSpeed(options.speed),
      packetIo: replayer.packetIo,
    });
    return replayer;
  }

  private async closeOutput(): Promise<void> {
    const replayer = this.replayer;
    this.replayer = null;
    this.replayerKey = "";
    this.metrics.outputUp.set({}, 0);
    await replayer?.stop().catch((error: unknown) => this.log.warn("output-close-failed", { error }));
  }

  /** After a finished replay: deletes or moves the file and its sidecar, then forgets it. */
  private async finish(file: IncomingFile): Promise<void> {
    const sidecar = join(this.incoming, sidecarOf(file.name));
    const after = this.settings.after ?? { action: "delete" };
    // The sidecar goes first: a crash between the two leaves the capture, which the journal finishes.
    if (after.action === "move") {
      await moveFile(sidecar, after.path);
      await moveFile(file.path, after.path);
    } else {
      await removeFile(sidecar);
      await removeFile(file.path);
    }
    this.finishedFiles.delete(file.name);
    this.queue.done(file.name);
    this.log.info(after.action === "move" ? "file-moved" : "file-deleted", {
      file: file.name,
      ...(after.action === "move" ? { to: after.path } : {}),
    });
  }

  /** Sets a file (and its sidecar) aside in the failed folder with `<name>.reason.json`. */
  private async fail(
    file: IncomingFile,
    reason: FailReason,
    details: Record<string, unknown>,
  ): Promise<void> {
    const failed = this.settings.failed;
    await moveFile(join(this.incoming, sidecarOf(file.name)), failed);
    const movedTo = await setAside(file.path, failed, () => ({
      file: file.name,
      from: this.incoming,
      reason,
      ...details,
      at: new Date(this.clock.now()).toISOString(),
    }));
    this.queue.done(file.name);
    this.metrics.filesFailed.inc({ reason });
    this.log.warn("file-failed", {
      file: file.name,
      reason,
      to: failed,
      ...(movedTo && { movedTo }),
      ...details,
    });
    this.emit("file-failed", { file: file.name, reason, message: String(details["message"] ?? reason) });
  }

  private collect(): void {
    const { files, bytes, oldestStartMs } = this.queue.pending();
    this.metrics.backlogFiles.set({}, files);
    this.metrics.backlogBytes.set({}, bytes);
    const started = this.current?.startMs ?? oldestStartMs;
    this.metrics.lagSeconds.set({}, started === null ? 0 : Math.max(0, (this.clock.now() - started) / 1000));
  }
}

// The incoming folder must be there already: a missing one is most likely a typo or a mount not made.
async function requireFolder(path: string): Promise<void> {
  const stats = await stat(path).catch(() => null);
  if (stats?.isDirectory()) return;
  throw new SpoolError(
    "spool-unwritable",
    `incoming folder ${path} ${stats ? "is not a folder" : "does not exist"} (createIncoming is off)`,
    { path, errno: stats ? "ENOTDIR" : "ENOENT" },
  );
}
