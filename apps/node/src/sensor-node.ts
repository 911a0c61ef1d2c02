import { lstat, mkdir, readdir, readlink } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { type Logger, type MetricsRegistry, silentLogger } from "@sluice/daemon";
import { type PcapFormatReason, type VerifyResult, verifyCapture } from "@sluice/pcap-format";
import {
  type FileReplayStats,
  formatSpeed,
  isFileFault,
  parseSpeed,
  ReplayError,
  Replayer,
  type ReplayerOptions,
  type ReplayOutput,
} from "@sluice/replayer";
import { type FSWatcher, watch } from "chokidar";
import type { NodeConfig } from "./config.js";
import { moveIfThere, moveInto, unlinkIfThere, writeReason } from "./folders.js";
import { captureOrderTime, compareCaptureOrder, entryKind, sidecarOf } from "./incoming.js";
import { type FileIdentity, ReplayJournal } from "./journal.js";
import { type NodeMetrics, nodeMetrics } from "./node-metrics.js";

/** A capture waiting in incoming, as last seen. */
interface Waiting {
  name: string;
  size: number;
  mtimeMs: number;
  /** When this process last saw its size or time change (our clock: NFS clocks may differ). */
  changedAt: number;
  /** Capture start from the name (or the modification time when it has none): the first sort key. */
  startMs: number;
}

/**
 * Why a file went to the failed folder (also the `reason` label of sluice_node_files_failed_total): the
 * verifier's PcapFormatReason (truncated-record, bad-magic, ...) for a file that stayed incomplete,
 * the replayer's bad-file or unsupported-linktype, or symlink.
 */
export type FailReason = PcapFormatReason | "symlink" | "incomplete" | "bad-file" | "unsupported-linktype";

// Errors of the output, not of the file: keep the file, wait, open the output again.

/** Options of a SensorNode. */
export interface SensorNodeOptions {
  config: NodeConfig;
  log?: Logger;
  metrics: MetricsRegistry;
}

/**
 * The node's work: watches `incoming`, verifies each capture, replays them one after another in capture
 * order into the output, and deletes or moves each only after its replay finished (a fsynced journal in
 * `stateDir` keeps kill -9 between the two from replaying it twice). Output failures keep the file and
 * retry with backoff; files that cannot be replayed go to `failed` with a `.reason.json`.
 */
export class SensorNode {
  private config: NodeConfig;
  private readonly log: Logger;
  private readonly metrics: NodeMetrics;
  private readonly incoming: string;
  private readonly journal: ReplayJournal;
  private readonly waiting = new Map<string, Waiting>();
  private readonly warned = new Set<string>();
  private watcher: FSWatcher | null = null;
  private replayer: Replayer | null = null;
  private replayerConfig = "";
  private loop: Promise<void> = Promise.resolve();
  private current: Waiting | null = null;
  private stopping = false;
  private readonly stopController = new AbortController();
  private wake: (() => void) | null = null;
  private rescanTimer: NodeJS.Timeout | null = null;
  private rescan: () => void = () => {};
  /** Waits while the output is down. */
  private readonly outputBackoff = new Backoff(() => this.config.retry);
  /** Waits after a file system error on a file (e.g. its delete refused). */
  private readonly fileErrorBackoff = new Backoff(() => this.config.retry);
  private scanning: Promise<void> | null = null;
  private scanAgain = false;
  /** Verdicts by file name, for the file as it was (size, time); see verify. */
  private readonly verified = new Map<string, FileIdentity & { result: Promise<VerifyResult> }>();

  constructor(options: SensorNodeOptions) {
    this.config = options.config;
    this.log = options.log ?? silentLogger;
    this.metrics = nodeMetrics(options.metrics);
    this.incoming = resolve(options.config.incoming);
    this.journal = new ReplayJournal(resolve(options.config.stateDir));
    options.metrics.onCollect(() => this.collect());
  }

  /** Captures waiting in incoming (the backlog). */
  get backlog(): number {
    return this.waiting.size;
  }

  /** Reads the journal, scans incoming, starts watching it and replaying. The output opens in the loop. */
  async start(): Promise<void> {
    await mkdir(this.incoming, { recursive: true });
    await mkdir(this.config.failed, { recursive: true });
    if (this.config.after.action === "move") await mkdir(this.config.after.path, { recursive: true });
    await this.scan();
    const finished = this.journal.open((entry) => this.waiting.has(entry.name));
    if (finished.length > 0) {
      this.log.info("journal-resumed", { finished: finished.map((e) => e.name) });
    }
    this.watcher = watch(this.incoming, {
      depth: 0,
      ignoreInitial: true,
      followSymlinks: false,
      ignored: (path) =>
        path !== this.incoming && entryKind(path.slice(path.lastIndexOf("/") + 1)) === "ignored",
    });
    this.rescan = (): void => {
      this.scan().then(
        () => this.notify(),
        (error: unknown) => this.log.warn("incoming-unreadable", { path: this.incoming, error }),
      );
    };
    // An event updates its own entry only: a full listing per event is quadratic in the backlog.
    const changed = (path: string): void => {
      const name = basename(path);
      if (entryKind(name) !== "capture") return;
      this.look(name).then(
        () => this.notify(),
        (error: unknown) => this.log.warn("incoming-unreadable", { path, error }),
      );
    };
    this.watcher.on("add", changed);
    this.watcher.on("change", changed);
    this.watcher.on("unlink", changed);
    this.watcher.on("error", (error) => this.log.warn("watch-failed", { path: this.incoming, error }));
    this.rescanTimer = setInterval(this.rescan, this.config.rescanSeconds * 1000);
    this.log.info("watching", { incoming: this.incoming, backlog: this.waiting.size });
    this.loop = this.run().catch((error: unknown) => {
      this.log.error("loop-failed", { error });
    });
  }

  /**
   * Takes a new config between files: speed, pacing, output (reopened), after, failed, stableSeconds,
   * rescanSeconds and retry. `incoming`, `stateDir`, `metrics` and `log` need a restart: a config changing
   * them is refused.
   */
  reload(next: NodeConfig): void {
    const fixed: string[] = [];
    if (resolve(next.incoming) !== resolve(this.config.incoming)) fixed.push("incoming");
    if (resolve(next.stateDir) !== resolve(this.config.stateDir)) fixed.push("stateDir");
    if (next.metrics?.listen !== this.config.metrics?.listen) fixed.push("metrics");
    if (next.log.level !== this.config.log.level) fixed.push("log.level");
    if (fixed.length > 0) throw new Error(`${fixed.join(", ")} cannot change without a restart`);
    if (next.rescanSeconds !== this.config.rescanSeconds && this.rescanTimer) {
      clearInterval(this.rescanTimer);
      this.rescanTimer = setInterval(this.rescan, next.rescanSeconds * 1000);
    }
    this.config = next;
    this.log.info("config-reloaded", {
      speed: formatSpeed(parseSpeed(next.speed)),
      after: next.after,
      output: next.output,
    });
    this.notify();
  }

  /** Stops at a record boundary; the current file stays in incoming for the next start. */
  async stop(): Promise<{ pending: number }> {
    this.stopping = true;
    this.stopController.abort();
    if (this.rescanTimer) clearInterval(this.rescanTimer);
    this.notify();
    // The abort ends a replay in flight at a record boundary; then the loop ends and the output closes.
    await this.loop;
    await this.closeOutput().catch(() => {});
    await this.watcher?.close();
    this.journal.close();
    return { pending: this.waiting.size };
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  /** Sleeps `ms`, or until stop (and, with `wakeOnChange`, until incoming changes). */
  private sleep(ms: number, wakeOnChange: boolean): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((done) => {
      const signal = this.stopController.signal;
      const timer = setTimeout(finish, ms);
      function finish(): void {
        clearTimeout(timer);
        signal.removeEventListener("abort", finish);
        done();
      }
      signal.addEventListener("abort", finish, { once: true });
      if (wakeOnChange) this.wake = finish;
    });
  }

  /** Lists incoming; calls while a listing runs are folded into one more listing after it. */
  private scan(): Promise<void> {
    if (this.scanning) {
      this.scanAgain = true;
      return this.scanning;
    }
    this.scanning = (async () => {
      try {
        do {
          this.scanAgain = false;
          await this.list();
        } while (this.scanAgain);
      } finally {
        this.scanning = null;
      }
    })();
    return this.scanning;
  }

  private async list(): Promise<void> {
    const entries = await readdir(this.incoming);
    const present = new Set<string>();
    for (const name of entries) {
      if (entryKind(name) !== "capture") continue;
      present.add(name);
      await this.look(name);
    }
    for (const name of this.waiting.keys()) if (!present.has(name)) this.waiting.delete(name);
    for (const name of this.warned) if (!present.has(name)) this.warned.delete(name);
  }

  /** Updates what is known of one name in incoming (a watcher event, or one entry of a listing). */
  private async look(name: string): Promise<void> {
    const info = await lstat(join(this.incoming, name)).catch(() => null);
    if (info === null) {
      this.waiting.delete(name);
      this.warned.delete(name);
      return;
    }
    if (!info.isFile() && !info.isSymbolicLink()) {
      if (!this.warned.has(name)) {
        this.warned.add(name);
        this.log.warn("incoming-entry-ignored", {
          file: name,
          why: info.isDirectory() ? "a directory" : "not a regular file",
        });
      }
      return;
    }
    const known = this.waiting.get(name);
    if (known === undefined) {
      const startMs = captureOrderTime(name, info.mtimeMs);
      this.waiting.set(name, {
        name,
        size: info.size,
        mtimeMs: info.mtimeMs,
        changedAt: Date.now(),
        startMs,
      });
    } else if (known.size !== info.size || known.mtimeMs !== info.mtimeMs) {
      Object.assign(known, { size: info.size, mtimeMs: info.mtimeMs, changedAt: Date.now() });
    }
  }

  private next(): Waiting | null {
    let first: Waiting | null = null;
    for (const file of this.waiting.values()) {
      if (first === null || before(file, first)) first = file;
    }
    return first;
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      const file = this.next();
      if (file === null) {
        await this.sleep(this.config.rescanSeconds * 1000, true);
        continue;
      }
      try {
        const waitMs = await this.take(file);
        this.fileErrorBackoff.reset();
        if (waitMs > 0) await this.sleep(waitMs, false);
      } catch (error) {
        // A file system error on one file (permissions, a full failed folder): log it and look again
        // later, soon at first (a brief fault), less often while it lasts.
        const waitMs = this.fileErrorBackoff.next();
        this.log.error("file-error", { file: file.name, error, retryInMs: waitMs });
        await this.sleep(waitMs, false);
      }
    }
  }

  /** Handles the first file in capture order; returns how long to wait before looking again (0: at once). */
  private async take(file: Waiting): Promise<number> {
    const path = join(this.incoming, file.name);
    const info = await lstat(path).catch(() => null);
    if (info === null) {
      this.waiting.delete(file.name);
      return 0;
    }
    if (info.isSymbolicLink()) {
      const target = await readlink(path).catch(() => null);
      this.log.warn("symlink-refused", { file: file.name, target });
      await this.fail(file, "symlink", { target, message: "symlinks in incoming are never followed" });
      return 0;
    }
    if (info.size !== file.size || info.mtimeMs !== file.mtimeMs) {
      Object.assign(file, { size: info.size, mtimeMs: info.mtimeMs, changedAt: Date.now() });
    }
    const identity: FileIdentity = { name: file.name, size: info.size, mtimeMs: info.mtimeMs };
    if (this.journal.finished(identity)) {
      this.log.info("replay-already-finished", { file: file.name });
      await this.finish(file, identity);
      return 0;
    }
    const verdict = await this.verify(path, identity);
    const after = await lstat(path).catch(() => null);
    if (after === null || after.size !== info.size || after.mtimeMs !== info.mtimeMs) return 0;
    if (!verdict.complete) {
      const stableMs = this.config.stableSeconds * 1000;
      const waited = Date.now() - file.changedAt;
      if (waited < stableMs) {
        this.log.debug("file-incomplete-waiting", { file: file.name, size: info.size, error: verdict.error });
        return Math.min(stableMs - waited, 1000);
      }
      const error = verdict.error;
      // The verifier's own reason (truncated-record, bad-magic, ...) and the byte offset it names.
      await this.fail(file, error?.reason ?? "incomplete", {
        offset: error?.offset ?? null,
        message: error?.message ?? "incomplete",
        packets: verdict.packets,
        validBytes: verdict.validBytes,
        size: verdict.size,
        stableSeconds: this.config.stableSeconds,
      });
      return 0;
    }
    return this.replay(file, identity, verdict.packets);
  }

  /**
   * verifyCapture, remembered for the file as it is (name, size, time): retries while the output is down,
   * and an incomplete file waiting to be stable, are not read again until they change; a file verified
   * ahead (see verifyAhead) is not read twice.
   */
  private verify(path: string, identity: FileIdentity): Promise<VerifyResult> {
    const known = this.verified.get(identity.name);
    if (known && known.size === identity.size && known.mtimeMs === identity.mtimeMs) return known.result;
    const result = verifyCapture(path);
    this.verified.set(identity.name, { ...identity, result });
    // A read that failed (the file went away, a permission) is tried again next time, not remembered.
    result.catch(() => {
      if (this.verified.get(identity.name)?.result === result) this.verified.delete(identity.name);
    });
    // The current file and the one verified ahead; older verdicts are of files long gone.
    for (const name of this.verified.keys()) {
      if (this.verified.size <= 2) break;
      this.verified.delete(name);
    }
    return result;
  }

  /**
   * While `current` replays, reads the file after it in capture order, so that one can start as soon as
   * this one is done: the inject child sends while this process verifies (a FIFO output shares this
   * process's event loop with the read, in turns).
   */
  private verifyAhead(current: Waiting): void {
    let next: Waiting | null = null;
    for (const file of this.waiting.values()) {
      if (file !== current && before(current, file) && (next === null || before(file, next))) next = file;
    }
    if (next === null) return;
    const { name } = next;
    const path = join(this.incoming, name);
    void lstat(path)
      .then((info) =>
        info.isFile() ? this.verify(path, { name, size: info.size, mtimeMs: info.mtimeMs }) : null,
      )
      .catch(() => {});
  }

  private async replay(file: Waiting, identity: FileIdentity, packets: number): Promise<number> {
    const replayer = await this.openOutput();
    if (replayer === null) return this.backoff();
    const path = join(this.incoming, file.name);
    this.current = file;
    this.metrics.currentFile.set({ file: file.name }, 1);
    this.metrics.currentPackets.set({}, 0);
    this.log.info("replay-started", { file: file.name, size: identity.size, packets });
    let stats: FileReplayStats;
    try {
      const replaying = replayer.replayFile(path, {
        signal: this.stopController.signal,
        onProgress: (p) => this.metrics.currentPackets.set({}, p.packetsSent),
      });
      this.verifyAhead(file);
      stats = await replaying;
    } catch (error) {
      const partial = ReplayError.isInstance(error) ? error.stats : undefined;
      if (partial) this.count(partial);
      if (!ReplayError.isInstance(error)) throw error;
      if (error.reason === "stopped") {
        this.log.info("replay-interrupted", { file: file.name, packetsSent: partial?.packetsSent ?? null });
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
      return this.backoff();
    } finally {
      this.current = null;
      this.metrics.currentFile.reset();
      this.metrics.currentPackets.set({}, 0);
    }
    this.count(stats);
    this.journal.record(identity);
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
    await this.finish(file, identity);
    return 0;
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

  /** The open replayer for the current config, or null (logged) when the output cannot be opened now. */
  private async openOutput(): Promise<Replayer | null> {
    const options: ReplayerOptions = {
      output: replayOutput(this.config.output),
      speed: parseSpeed(this.config.speed),
      maxGapMs: this.config.maxGapMs,
      oversize: this.config.oversize,
      ...(this.config.output.type === "interface" && this.config.output.macs
        ? { macs: this.config.output.macs }
        : {}),
      ...(this.config.output.type === "interface" ? { timer: this.config.output.timer } : {}),
    };
    const key = JSON.stringify(options);
    if (this.replayer !== null && key === this.replayerConfig) return this.replayer;
    await this.closeOutput();
    // The packet-io fallback line (the addon not loading) goes to this node's JSON log.
    const replayer = new Replayer({ ...options, logger: this.log });
    try {
      await replayer.start();
    } catch (error) {
      await replayer.stop().catch(() => {});
      this.log.warn("output-unavailable", {
        output: this.config.output,
        reason: ReplayError.isInstance(error) ? error.reason : null,
        error,
        retryInSeconds: this.outputBackoff.peek() / 1000,
      });
      return null;
    }
    this.replayer = replayer;
    this.replayerConfig = key;
    this.metrics.outputUp.set({}, 1);
    this.log.info("output-open", {
      output: this.config.output,
      speed: formatSpeed(options.speed!),
      packetIo: replayer.packetIo,
    });
    return replayer;
  }

  private async closeOutput(): Promise<void> {
    const replayer = this.replayer;
    this.replayer = null;
    this.replayerConfig = "";
    this.metrics.outputUp.set({}, 0);
    await replayer?.stop().catch((error: unknown) => this.log.warn("output-close-failed", { error }));
  }

  /** After a finished replay: deletes or moves the file and its sidecar, then forgets it. */
  private async finish(file: Waiting, identity: FileIdentity): Promise<void> {
    const path = join(this.incoming, file.name);
    const sidecar = join(this.incoming, sidecarOf(file.name));
    const after = this.config.after;
    if (after.action === "move") {
      await moveIfThere(sidecar, after.path, sidecarOf(file.name));
      await moveInto(path, after.path, file.name);
    } else {
      await unlinkIfThere(sidecar);
      await unlinkIfThere(path);
    }
    this.journal.forget(identity.name);
    this.waiting.delete(file.name);
    this.log.info(after.action === "move" ? "file-moved" : "file-deleted", {
      file: file.name,
      ...(after.action === "move" ? { to: after.path } : {}),
    });
  }

  /** Sets a file (and its sidecar) aside in the failed folder with `<name>.reason.json`. */
  private async fail(file: Waiting, reason: FailReason, details: Record<string, unknown>): Promise<void> {
    const failed = this.config.failed;
    await mkdir(failed, { recursive: true });
    await writeReason(failed, file.name, {
      file: file.name,
      from: this.incoming,
      reason,
      ...details,
      at: new Date().toISOString(),
    });
    await moveIfThere(join(this.incoming, sidecarOf(file.name)), failed, sidecarOf(file.name));
    await moveInto(join(this.incoming, file.name), failed, file.name);
    this.waiting.delete(file.name);
    this.metrics.filesFailed.inc({ reason });
    this.log.warn("file-failed", { file: file.name, reason, to: failed, ...details });
  }

  private collect(): void {
    let bytes = 0;
    let oldest: Waiting | null = null;
    for (const file of this.waiting.values()) {
      bytes += file.size;
      if (oldest === null || before(file, oldest)) oldest = file;
    }
    this.metrics.backlogFiles.set({}, this.waiting.size);
    this.metrics.backlogBytes.set({}, bytes);
    const reference = this.current ?? oldest;
    const started = reference === null ? null : reference.startMs;
    this.metrics.lagSeconds.set({}, started === null ? 0 : Math.max(0, (Date.now() - started) / 1000));
  }
}

function replayOutput(output: NodeConfig["output"]): ReplayOutput {
  if (output.type === "fifo") return { type: "fifo", path: output.path };
  return {
    type: "interface",
    interface: output.interface,
    ...(output.netns ? { netns: output.netns } : {}),
    ...(output.qdiscBypass ? { qdiscBypass: true } : {}),
  };
}

function before(a: Waiting, b: Waiting): boolean {
  return compareCaptureOrder(a, b) < 0;
}

/** Waits that double from `retry.initialSeconds` up to `retry.maxSeconds` while a fault lasts. */
class Backoff {
  private ms = 0;

  constructor(private readonly retry: () => { initialSeconds: number; maxSeconds: number }) {}

  /** The wait `next()` will return, without taking it. */
  peek(): number {
    const { initialSeconds, maxSeconds } = this.retry();
    return Math.min(maxSeconds * 1000, this.ms === 0 ? initialSeconds * 1000 : this.ms * 2);
  }

  next(): number {
    this.ms = this.peek();
    return this.ms;
  }

  reset(): void {
    this.ms = 0;
  }
}
