import { EventEmitter } from "node:events";
import { constants } from "node:fs";
import {
  copyFile,
  link,
  lstat,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  unlink,
  writeFile,
} from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { type Logger, silentLogger } from "@sluice/daemon";
import { type CaptureSummary, formatTimestamp, inspectCapture } from "@sluice/pcap-format";
import { compactUtc, safeLabel } from "@sluice/rotator";
import { type FSWatcher, watch } from "chokidar";
import { syncDirectory } from "./destination.js";

/** An inbox of finished captures to route like rotated files. */
export interface FolderSourceOptions {
  /** Source label, the first part of the spool names. */
  name: string;
  /** The inbox folder. */
  path: string;
  /** The spool folder files are moved into (the master's `<spool>/ready`). */
  spool: string;
  /** Where unreadable files go, each with a `.reason.json` (default `<spool>/../failed`). */
  failed?: string;
  /** A file is taken once its size and mtime have not changed for this long (default 2 s). */
  stableMs?: number;
  /** A file that stays incomplete (torn last record) this long after it stopped changing is set aside (default 60 s). */
  incompleteAfterMs?: number;
  /** Rescan the inbox this often, for filesystems that send no change events (NFS) (default 5 s). */
  rescanMs?: number;
  logger?: Logger;
}

/** A capture taken from the inbox, now in the spool. */
export interface IngestedFile {
  event: "file-ready";
  /** Path in the spool. */
  path: string;
  name: string;
  source: string;
  /** Where it came from. */
  origin: { path: string; size: number; mtimeMs: number; dev: number; ino: number };
  format: "pcap" | "pcapng";
  packets: number;
  bytes: number;
  linkTypes: number[];
  firstPacketTime: string | null;
  lastPacketTime: string | null;
}

/** A file set aside: not a capture, or a capture that never became complete. */
export interface RejectedFile {
  path: string;
  /** Where it was moved. */
  movedTo: string;
  reason: string;
  offset: number | null;
  message: string;
}

export interface FolderSourceEvents {
  file: [IngestedFile];
  rejected: [RejectedFile];
  error: [Error];
}

interface Candidate {
  size: number;
  mtimeMs: number;
  /** When size and mtime last changed. */
  changedAt: number;
  /** When it was first found stable but incomplete. */
  incompleteSince: number | null;
}

/**
 * Watches an inbox (chokidar, an initial scan, and a periodic rescan for NFS) and moves each complete,
 * stable pcap or pcapng file into the spool under a name like a rotated file's, with a sidecar manifest
 * saying where it came from. Files still being written wait; files that are not captures, or stay
 * incomplete, are moved aside with the reason and byte offset. Symlinks and non-regular files are left
 * alone.
 */
export class FolderSource extends EventEmitter<FolderSourceEvents> {
  readonly name: string;
  readonly path: string;
  private readonly spool: string;
  private readonly failed: string;
  private readonly stableMs: number;
  private readonly incompleteAfterMs: number;
  private readonly rescanMs: number;
  private readonly log: Logger;
  private readonly candidates = new Map<string, Candidate>();
  private readonly ignored = new Set<string>();
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private sequence = 0;
  private busy: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(options: FolderSourceOptions) {
    super();
    this.name = options.name;
    this.path = resolve(options.path);
    this.spool = resolve(options.spool);
    this.failed = resolve(options.failed ?? join(this.spool, "..", "failed"));
    this.stableMs = options.stableMs ?? 2000;
    this.incompleteAfterMs = options.incompleteAfterMs ?? 60_000;
    this.rescanMs = options.rescanMs ?? 5000;
    this.log = options.logger ?? silentLogger;
  }

  /** Finishes what a crash cut short, scans the inbox, and starts watching it. */
  async start(): Promise<void> {
    await mkdir(this.spool, { recursive: true });
    await this.finishInterruptedMoves();
    this.watcher = watch(this.path, {
      depth: 0,
      ignoreInitial: true,
      ignored: (path) => path !== this.path && basename(path).startsWith("."),
    });
    this.watcher.on("add", () => this.poll());
    this.watcher.on("change", () => this.poll());
    this.watcher.on("error", (error) => this.emit("error", error as Error));
    this.poll();
  }

  /** Stops watching; a file being moved is finished first. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.watcher?.close();
    this.watcher = null;
    await this.busy;
  }

  private poll(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.busy = this.busy
      .then(() => this.scan())
      .catch((error: unknown) => {
        this.emit("error", error as Error);
      });
  }

  private async scan(): Promise<void> {
    if (this.stopped) return;
    let next = this.rescanMs;
    let entries: string[] = [];
    try {
      entries = await readdir(this.path);
    } catch (error) {
      this.log.warn("inbox-unreadable", { source: this.name, path: this.path, error });
    }
    const now = Date.now();
    const present = new Set<string>();
    const stable: { path: string; mtimeMs: number }[] = [];
    for (const entry of entries.sort()) {
      if (entry.startsWith(".")) continue;
      const path = join(this.path, entry);
      present.add(path);
      const info = await lstat(path).catch(() => null);
      if (info === null) continue;
      if (!info.isFile()) {
        if (!this.ignored.has(path)) {
          this.ignored.add(path);
          this.log.warn("inbox-entry-ignored", {
            source: this.name,
            path,
            why: "not a regular file (symlinks are not followed)",
          });
        }
        continue;
      }
      const known = this.candidates.get(path);
      if (known === undefined || known.size !== info.size || known.mtimeMs !== info.mtimeMs) {
        this.candidates.set(path, {
          size: info.size,
          mtimeMs: info.mtimeMs,
          changedAt: now,
          incompleteSince: known?.incompleteSince ?? null,
        });
        next = Math.min(next, this.stableMs);
        continue;
      }
      const waited = now - known.changedAt;
      if (waited >= this.stableMs) stable.push({ path, mtimeMs: info.mtimeMs });
      else next = Math.min(next, this.stableMs - waited);
    }
    for (const path of this.candidates.keys()) if (!present.has(path)) this.candidates.delete(path);
    for (const path of this.ignored) if (!present.has(path)) this.ignored.delete(path);
    stable.sort((a, b) => a.mtimeMs - b.mtimeMs || (a.path < b.path ? -1 : 1));
    for (const { path } of stable) {
      if (this.stopped) return;
      const wait = await this.take(path, now);
      if (wait !== null) next = Math.min(next, wait);
    }
    if (!this.stopped) this.timer = setTimeout(() => this.poll(), Math.max(50, next));
    this.timer?.unref?.();
  }

  // Verifies a stable file and ingests or rejects it; returns how long to wait before looking again.
  private async take(path: string, now: number): Promise<number | null> {
    const candidate = this.candidates.get(path)!;
    let summary: CaptureSummary;
    try {
      summary = await inspectCapture(path);
    } catch (error) {
      this.log.warn("inbox-read-failed", { source: this.name, path, error });
      return this.stableMs;
    }
    if (!summary.complete) {
      const torn =
        summary.error?.reason === "truncated-record" || summary.error?.reason === "truncated-header";
      if (torn) {
        candidate.incompleteSince ??= now;
        const left = candidate.incompleteSince + this.incompleteAfterMs - now;
        if (left > 0) return left;
      }
      await this.reject(path, summary);
      this.candidates.delete(path);
      return null;
    }
    await this.ingest(path, summary);
    this.candidates.delete(path);
    return null;
  }

  private async ingest(path: string, summary: CaptureSummary): Promise<void> {
    const origin = await lstat(path);
    const extension = summary.format === "pcapng" ? "pcapng" : "pcap";
    const startMs = summary.firstTime === null ? origin.mtimeMs : summary.firstTime.seconds * 1000;
    const manifest = (name: string): IngestedFile => ({
      event: "file-ready",
      path: join(this.spool, name),
      name,
      source: this.name,
      origin: { path, size: origin.size, mtimeMs: origin.mtimeMs, dev: origin.dev, ino: origin.ino },
      format: summary.format ?? "pcap",
      packets: summary.packets,
      bytes: summary.bytes,
      linkTypes: summary.linkTypes,
      firstPacketTime:
        summary.firstTime && formatTimestamp(summary.firstTime.seconds, summary.firstTime.nanoseconds),
      lastPacketTime:
        summary.lastTime && formatTimestamp(summary.lastTime.seconds, summary.lastTime.nanoseconds),
    });
    // The sidecar goes first: after a crash it says the inbox file was already taken. Neither it nor the
    // capture ever replaces a file of the same name.
    let name = "";
    let staged: string | null = null;
    for (;;) {
      name = `${safeLabel(this.name)}-${compactUtc(startMs)}-${this.nextSequence()}.${extension}`;
      const sidecar = `${join(this.spool, name)}.json`;
      if (!(await writeNew(sidecar, `${JSON.stringify(manifest(name), null, 2)}\n`))) continue;
      try {
        await link(staged ?? path, join(this.spool, name));
        break;
      } catch (error) {
        await unlink(sidecar).catch(() => {});
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "EEXIST") continue;
        if (code !== "EXDEV" || staged !== null) throw error;
        // Another filesystem: copy under a hidden name first, so the spool never shows a partial file.
        staged = join(this.spool, `.${basename(path)}.inbox-partial`);
        await copyFile(path, staged, constants.COPYFILE_FICLONE);
        const handle = await open(staged, "r+");
        await handle.sync();
        await handle.close();
      }
    }
    if (staged !== null) await unlink(staged);
    await syncDirectory(this.spool);
    await unlink(path);
    const ingested = manifest(name);
    this.log.info("inbox-file-taken", {
      source: this.name,
      from: path,
      to: ingested.path,
      packets: ingested.packets,
    });
    this.emit("file", ingested);
  }

  // Milliseconds since the epoch, kept increasing: unique across restarts, where a counter would start over
  // and name a new file like one a consumer already holds.
  private nextSequence(): string {
    this.sequence = Math.max(this.sequence + 1, Date.now());
    return String(this.sequence);
  }

  private async reject(path: string, summary: CaptureSummary): Promise<void> {
    await mkdir(this.failed, { recursive: true });
    let movedTo = join(this.failed, basename(path));
    for (let i = 1; await exists(movedTo); i++) movedTo = join(this.failed, `${basename(path)}.${i}`);
    const rejected: RejectedFile = {
      path,
      movedTo,
      reason: summary.error?.reason ?? "unreadable",
      offset: summary.error?.offset ?? null,
      message: summary.error?.message ?? "not a capture",
    };
    try {
      await rename(path, movedTo);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EXDEV") throw error;
      await copyFile(path, movedTo, constants.COPYFILE_EXCL);
      await unlink(path);
    }
    await writeFile(`${movedTo}.reason.json`, `${JSON.stringify(rejected, null, 2)}\n`);
    this.log.warn("inbox-file-rejected", { source: this.name, ...rejected });
    this.emit("rejected", rejected);
  }

  // A crash between publishing a file into the spool and unlinking it from the inbox leaves both: the
  // sidecar's origin recognises the inbox file, which is then only unlinked. Leftover copies are removed.
  private async finishInterruptedMoves(): Promise<void> {
    for (const entry of await readdir(this.spool)) {
      if (entry.endsWith(".inbox-partial")) {
        await unlink(join(this.spool, entry)).catch(() => {});
        continue;
      }
      if (!entry.endsWith(".json") || entry.startsWith(".")) continue;
      let manifest: IngestedFile;
      try {
        manifest = JSON.parse(await readFile(join(this.spool, entry), "utf8")) as IngestedFile;
      } catch {
        continue;
      }
      if (manifest.source !== this.name || manifest.origin === undefined) continue;
      const published = await exists(manifest.path);
      const origin = await lstat(manifest.origin.path).catch(() => null);
      const same =
        origin !== null &&
        origin.size === manifest.origin.size &&
        origin.mtimeMs === manifest.origin.mtimeMs &&
        origin.ino === manifest.origin.ino &&
        origin.dev === manifest.origin.dev;
      if (!published) {
        await unlink(join(this.spool, entry)).catch(() => {}); // the sidecar of a move that never happened
        continue;
      }
      if (same) {
        await unlink(manifest.origin.path);
        this.log.info("inbox-move-finished", {
          source: this.name,
          from: manifest.origin.path,
          to: manifest.path,
        });
      }
    }
  }
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

// Writes a file under `path` only if nothing is there: hidden temporary, fsync, link. False when taken.
async function writeNew(path: string, text: string): Promise<boolean> {
  const temporary = join(resolve(path, ".."), `.${basename(path)}.partial`);
  const handle = await open(temporary, "w");
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(temporary, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  } finally {
    await unlink(temporary).catch(() => {});
  }
}
