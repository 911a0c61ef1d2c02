import { EventEmitter } from "node:events";
import type { Stats } from "node:fs";
import { lstat, readdir, readlink } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import type { PcapFormatError, PcapFormatReason, Timestamp } from "@sluice/pcap-format";
import { type FSWatcher, watch } from "chokidar";
import { type CaptureCheck, checkCapture, readFirstRecordTime } from "./capture-check.js";
import { type Clock, systemClock } from "./clock.js";
import { unlessMissing } from "./errors.js";
import { entryKind, nameTimeHint } from "./file-name.js";
import { type Logger, silentLogger } from "./observe.js";

/** How long files wait, and how often the folder is listed; every field can change while the queue runs. */
export interface IncomingTiming {
  /** A complete file must have been unchanged this long before it is handed out (default 0). */
  settleMs?: number;
  /** A file that is no capture (bad magic, ...) is refused once unchanged this long (default 10 s). */
  rejectAfterMs?: number;
  /** A capture cut short (its last record torn) is refused once unchanged this long (default: rejectAfterMs). */
  incompleteAfterMs?: number;
  /** The folder is listed again this often, for file systems that send no events (NFS) (default 5 s). */
  rescanMs?: number;
}

/** Options of an IncomingQueue. */
export interface IncomingQueueOptions extends IncomingTiming {
  /** The folder to watch. */
  path: string;
  /**
   * `strict` (default): files are handed out strictly in capture order: the first one waits, while it is
   * still being written, and holds back those after it. `ready`: any file that is ready, earliest first.
   */
  order?: "strict" | "ready";
  clock?: Clock;
  logger?: Logger;
}

/** A capture file in the folder, as last seen. */
export interface IncomingFile {
  name: string;
  path: string;
  size: number;
  mtimeMs: number;
  dev: number;
  ino: number;
  /** Timestamp of its first record, once one could be read. */
  firstRecord: Timestamp | null;
  /**
   * Where it sorts, in ms since the epoch: its first record's time; before one can be read, the time its
   * name hints at (nameTimeHint), else its modification time.
   */
  startMs: number;
}

/** Why a file was refused. */
export type RefusalReason = "symlink" | PcapFormatReason | "incomplete";

/** What `next()` hands out. */
export type IncomingItem =
  /** A complete, verified capture, next in capture order. */
  | { kind: "capture"; file: IncomingFile; check: CaptureCheck }
  /** A file that will not become a capture: a symlink (never followed), or one that stayed invalid. */
  | {
      kind: "refused";
      file: IncomingFile;
      reason: RefusalReason;
      /** What the verifier said (null for a symlink). */
      check: CaptureCheck | null;
      /** A symlink's target. */
      target: string | null;
      /** How long it had been unchanged. */
      unchangedMs: number;
    };

export interface IncomingQueueEvents {
  /** A listing of the folder finished: a test or a status page knows what the queue has seen. */
  scanned: [{ files: number }];
  /** The file next in line is not a complete capture yet and is waited for. */
  incomplete: [{ name: string; size: number; error: PcapFormatError | null; unchangedMs: number }];
  /** A file could not be read (a permission, an I/O error); it is looked at again later. */
  "read-failed": [{ name: string; error: unknown }];
}

interface Entry extends IncomingFile {
  /** When this process last saw it change (our clock: NFS clocks may differ). */
  changedAt: number;
  isLink: boolean;
  /** Handed out and not yet released. */
  taken: boolean;
  /** Handed out as refused and left where it is: not handed out again until it changes. */
  ignored: boolean;
}

const TORN = new Set<string>(["truncated-record", "truncated-header"]);

/**
 * An incoming folder as a queue of verified captures in capture order. It lists the folder at start,
 * watches it (chokidar), and lists it again every `rescanMs`; it never follows a symlink and ignores
 * folders, FIFOs and sockets (one warning each); it waits until a file is a complete capture
 * (@sluice/pcap-format's decoder reads it all) and has been unchanged for `settleMs`; and it hands out
 * files by the timestamp of their first record, then by name, however they were named or copied.
 * A file that stays invalid is handed out as refused: the caller sets it aside.
 */
export class IncomingQueue extends EventEmitter<IncomingQueueEvents> {
  readonly path: string;
  private readonly strict: boolean;
  private readonly clock: Clock;
  private readonly log: Logger;
  private timing: Required<IncomingTiming>;
  private readonly entries = new Map<string, Entry>();
  private readonly warned = new Set<string>();
  private readonly checks = new Map<string, { key: string; result: Promise<CaptureCheck> }>();
  private readonly stopController = new AbortController();
  private watcher: FSWatcher | null = null;
  private rescanning: Promise<void> = Promise.resolve();
  private scanning: Promise<void> | null = null;
  private scanAgain = false;
  private wakers = new Set<() => void>();
  /** Counts changes, so a change that came while a pick was running is not slept through. */
  private generation = 0;

  constructor(options: IncomingQueueOptions) {
    super();
    this.path = resolve(options.path);
    this.strict = (options.order ?? "strict") === "strict";
    this.clock = options.clock ?? systemClock;
    this.log = options.logger ?? silentLogger;
    this.timing = resolveTiming(options, null);
  }

  /** Lists the folder and starts watching it; resolves once the watcher is ready. */
  async start(): Promise<void> {
    await this.scan();
    this.watcher = watch(this.path, {
      depth: 0,
      ignoreInitial: true,
      followSymlinks: false,
      ignored: (path) => path !== this.path && entryKind(basename(path)) === "ignored",
    });
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
    this.watcher.on("error", (error) => this.log.warn("watch-failed", { path: this.path, error }));
    // Changes before the watcher is ready would only be seen by the next rescan.
    await new Promise<void>((ready) => this.watcher!.once("ready", ready));
    this.rescanning = this.rescanLoop();
    // What changed while the watcher got ready.
    await this.scan();
  }

  /** Changes waits and the rescan period; applies from the next look at a file. */
  configure(timing: IncomingTiming): void {
    this.timing = resolveTiming(timing, this.timing);
    this.notify();
  }

  /** Stops watching; a pending `next()` resolves to null. */
  async stop(): Promise<void> {
    this.stopController.abort();
    this.notify();
    await this.watcher?.close();
    this.watcher = null;
    await this.rescanning;
    await this.scanning;
  }

  /**
   * The next file: the first capture in capture order that is ready, or a file refused for good. Waits
   * until there is one; resolves to null once the queue stops or `signal` aborts. A file handed out is
   * not handed out again until `release`d (or, after `done`, ever).
   */
  async next(signal?: AbortSignal): Promise<IncomingItem | null> {
    while (!this.stopController.signal.aborted && !signal?.aborted) {
      const seen = this.generation;
      const { item, waitMs } = await this.pick();
      if (item !== null) {
        const entry = this.entries.get(item.file.name);
        if (entry) entry.taken = true;
        if (item.kind === "capture") this.checkAhead();
        return item;
      }
      if (seen === this.generation) await this.waitForChange(waitMs, signal);
    }
    return null;
  }

  /** The caller is done with a file it was handed (deleted, moved): forget it. */
  done(name: string): void {
    this.entries.delete(name);
    this.checks.delete(name);
    this.notify();
  }

  /** The caller gives a file back (to retry it later): it may be handed out again. */
  release(name: string): void {
    const entry = this.entries.get(name);
    if (entry) entry.taken = false;
    this.notify();
  }

  /** A refused file the caller leaves in place: not handed out again until it changes or goes. */
  ignore(name: string): void {
    const entry = this.entries.get(name);
    if (entry) Object.assign(entry, { taken: false, ignored: true });
  }

  /** Captures waiting (those handed out and not yet done included), their bytes, and the earliest start. */
  pending(): { files: number; bytes: number; oldestStartMs: number | null } {
    let bytes = 0;
    let oldest: number | null = null;
    let files = 0;
    for (const entry of this.entries.values()) {
      if (entry.ignored) continue;
      files++;
      bytes += entry.size;
      if (oldest === null || entry.startMs < oldest) oldest = entry.startMs;
    }
    return { files, bytes, oldestStartMs: oldest };
  }

  /** Lists the folder now (also what the periodic rescan does); resolves when the listing is done. */
  scan(): Promise<void> {
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

  private async rescanLoop(): Promise<void> {
    const stop = this.stopController.signal;
    while (!stop.aborted) {
      await this.clock.sleep(this.timing.rescanMs, stop);
      if (stop.aborted) return;
      await this.scan().catch((error: unknown) =>
        this.log.warn("incoming-unreadable", { path: this.path, error }),
      );
      this.notify();
    }
  }

  private async list(): Promise<void> {
    let names: string[] = [];
    try {
      names = await readdir(this.path);
    } catch (error) {
      this.log.warn("incoming-unreadable", { path: this.path, error });
    }
    const present = new Set<string>();
    // One time for the whole listing: files first seen together settle together, in capture order.
    const now = this.clock.now();
    for (const name of names) {
      if (entryKind(name) !== "capture") continue;
      present.add(name);
      await this.look(name, now);
    }
    for (const name of this.entries.keys()) if (!present.has(name)) this.forget(name);
    for (const name of this.warned) if (!present.has(name)) this.warned.delete(name);
    this.emit("scanned", { files: this.entries.size });
  }

  private forget(name: string): void {
    this.entries.delete(name);
    this.checks.delete(name);
    this.warned.delete(name);
  }

  /** Updates what is known of one name (a watcher event, or one entry of a listing). */
  private async look(name: string, now = this.clock.now()): Promise<Entry | null> {
    const path = join(this.path, name);
    const info = await unlessMissing(lstat(path));
    if (info === null) {
      this.forget(name);
      return null;
    }
    if (!info.isFile() && !info.isSymbolicLink()) {
      this.entries.delete(name);
      if (!this.warned.has(name)) {
        this.warned.add(name);
        this.log.warn("incoming-entry-ignored", {
          file: name,
          path,
          why: info.isDirectory() ? "a directory" : "not a regular file",
        });
      }
      return null;
    }
    const known = this.entries.get(name);
    if (known !== undefined && sameVersion(known, info)) return known;
    const replaced = known === undefined || known.ino !== info.ino || known.dev !== info.dev;
    const entry: Entry = {
      name,
      path,
      size: info.size,
      mtimeMs: info.mtimeMs,
      dev: info.dev,
      ino: info.ino,
      firstRecord: replaced ? null : known.firstRecord,
      startMs: 0,
      changedAt: now,
      isLink: info.isSymbolicLink(),
      taken: known?.taken ?? false,
      ignored: false,
    };
    // A file's first record does not change as the file grows: read it once it is there.
    if (entry.firstRecord === null && !entry.isLink) {
      entry.firstRecord = await Promise.resolve()
        .then(() => readFirstRecordTime(path))
        .catch(() => null);
    }
    entry.startMs = captureStartMs(name, entry.firstRecord, info.mtimeMs);
    this.entries.set(name, entry);
    return entry;
  }

  private ordered(): Entry[] {
    return [...this.entries.values()].filter((e) => !e.taken && !e.ignored).sort(compareCaptureOrder);
  }

  /** The first file that can be handed out now, or how long to wait before looking again. */
  private async pick(): Promise<{ item: IncomingItem | null; waitMs: number }> {
    let waitMs = this.timing.rescanMs;
    for (const candidate of this.ordered()) {
      const verdict = await this.evaluate(candidate);
      if (verdict.item !== null) return verdict;
      waitMs = Math.min(waitMs, verdict.waitMs);
      if (this.strict && verdict.blocks) break;
    }
    return { item: null, waitMs };
  }

  private async evaluate(
    candidate: Entry,
  ): Promise<{ item: IncomingItem | null; waitMs: number; blocks: boolean }> {
    const wait = (waitMs: number, blocks = true) => ({ item: null, waitMs, blocks });
    const entry = await this.look(candidate.name);
    if (entry === null) return wait(0, false);
    const unchangedMs = this.clock.now() - entry.changedAt;
    if (entry.isLink) {
      const target = await readlink(entry.path).catch(() => null);
      return {
        item: { kind: "refused", file: fileOf(entry), reason: "symlink", check: null, target, unchangedMs },
        waitMs: 0,
        blocks: true,
      };
    }
    const { settleMs, rejectAfterMs, incompleteAfterMs } = this.timing;
    if (unchangedMs < settleMs) return wait(settleMs - unchangedMs);
    let check: CaptureCheck;
    try {
      check = await this.check(entry);
    } catch (error) {
      this.checks.delete(entry.name);
      this.emit("read-failed", { name: entry.name, error });
      this.log.warn("incoming-read-failed", { file: entry.name, error });
      return wait(1000);
    }
    // A file that changed while it was read is looked at again as it is now.
    const after = await unlessMissing(lstat(entry.path));
    if (after === null || !sameVersion(entry, after)) return wait(0);
    if (check.complete) {
      return { item: { kind: "capture", file: fileOf(entry), check }, waitMs: 0, blocks: true };
    }
    const limit = TORN.has(check.error?.reason ?? "") ? incompleteAfterMs : rejectAfterMs;
    if (unchangedMs >= limit) {
      const reason: RefusalReason = check.error?.reason ?? "incomplete";
      return {
        item: { kind: "refused", file: fileOf(entry), reason, check, target: null, unchangedMs },
        waitMs: 0,
        blocks: true,
      };
    }
    this.emit("incomplete", { name: entry.name, size: entry.size, error: check.error, unchangedMs });
    this.log.debug?.("file-incomplete-waiting", { file: entry.name, size: entry.size, error: check.error });
    return wait(Math.min(limit - unchangedMs, 1000));
  }

  /** checkCapture, remembered for the file as it is (a retry does not read an unchanged file again). */
  private check(entry: Entry): Promise<CaptureCheck> {
    const key = versionKey(entry);
    const known = this.checks.get(entry.name);
    if (known?.key === key) return known.result;
    const result = checkCapture(entry.path);
    this.checks.set(entry.name, { key, result });
    result.catch(() => {
      if (this.checks.get(entry.name)?.result === result) this.checks.delete(entry.name);
    });
    // The files handed out and the one read ahead; older verdicts are of files long gone.
    for (const name of this.checks.keys()) {
      if (this.checks.size <= 3) break;
      if (name !== entry.name) this.checks.delete(name);
    }
    return result;
  }

  /**
   * Reads the file after the one just handed out, so it can go as soon as that one is done: while a
   * caller replays one file, the next is verified.
   */
  private checkAhead(): void {
    const next = this.ordered()[0];
    if (next === undefined || next.isLink) return;
    if (this.clock.now() - next.changedAt < this.timing.settleMs) return;
    this.check(next).catch(() => {});
  }

  private notify(): void {
    this.generation++;
    const wakers = this.wakers;
    this.wakers = new Set();
    for (const wake of wakers) wake();
  }

  private async waitForChange(ms: number, signal: AbortSignal | undefined): Promise<void> {
    const woken = new AbortController();
    const wake = (): void => woken.abort();
    this.wakers.add(wake);
    const stop = this.stopController.signal;
    const signals = [woken.signal, stop, ...(signal ? [signal] : [])];
    try {
      await this.clock.sleep(ms, AbortSignal.any(signals));
    } finally {
      this.wakers.delete(wake);
    }
  }
}

function resolveTiming(
  timing: IncomingTiming,
  previous: Required<IncomingTiming> | null,
): Required<IncomingTiming> {
  const rejectAfterMs = timing.rejectAfterMs ?? previous?.rejectAfterMs ?? 10_000;
  return {
    settleMs: timing.settleMs ?? previous?.settleMs ?? 0,
    rejectAfterMs,
    incompleteAfterMs: timing.incompleteAfterMs ?? previous?.incompleteAfterMs ?? rejectAfterMs,
    rescanMs: timing.rescanMs ?? previous?.rescanMs ?? 5000,
  };
}

function sameVersion(entry: Entry, info: Stats): boolean {
  return (
    entry.size === info.size &&
    entry.mtimeMs === info.mtimeMs &&
    entry.ino === info.ino &&
    entry.dev === info.dev &&
    entry.isLink === info.isSymbolicLink()
  );
}

function versionKey(entry: Entry): string {
  return `${entry.dev}:${entry.ino}:${entry.size}:${entry.mtimeMs}`;
}

/**
 * Where a capture sorts, in ms since the epoch: its first record's time; without one, the time its name
 * hints at (nameTimeHint), else its modification time.
 */
export function captureStartMs(name: string, firstRecord: Timestamp | null, mtimeMs: number): number {
  return firstRecord
    ? firstRecord.seconds * 1000 + firstRecord.nanoseconds / 1e6
    : (nameTimeHint(name) ?? mtimeMs);
}

/** Capture order: by where a capture starts (captureStartMs), then by name. */
export function compareCaptureOrder(
  a: { startMs: number; name: string },
  b: { startMs: number; name: string },
): number {
  if (a.startMs !== b.startMs) return a.startMs - b.startMs;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function fileOf(entry: Entry): IncomingFile {
  const { name, path, size, mtimeMs, dev, ino, firstRecord, startMs } = entry;
  return { name, path, size, mtimeMs, dev, ino, firstRecord, startMs };
}
