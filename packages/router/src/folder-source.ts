import { EventEmitter } from "node:events";
import { lstat, mkdir, readdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { formatTimestamp, inspectCapture, type PcapFormatError } from "@sluice/pcap-format";
import {
  compactUtc,
  IncomingQueue,
  type Logger,
  moveFile,
  pathExists,
  removeFile,
  SpoolError,
  safeLabel,
  setAside,
  sidecarOf,
  silentLogger,
  systemClock,
  writeFileAtomic,
} from "@sluice/spool";

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

/**
 * Watches an inbox (@sluice/spool's IncomingQueue: chokidar, an initial scan, and a periodic rescan for
 * NFS) and moves each complete, stable pcap or pcapng file into the spool under a name like a rotated
 * file's, with a sidecar manifest saying where it came from. Files still being written wait; files that
 * are not captures, or stay incomplete, are moved aside with the reason and byte offset. Symlinks and
 * non-regular files are left alone. Files go in capture order (first record, then name) among those ready.
 */
export class FolderSource extends EventEmitter<FolderSourceEvents> {
  readonly name: string;
  readonly path: string;
  private readonly spool: string;
  private readonly failed: string;
  private readonly stableMs: number;
  private readonly log: Logger;
  private readonly queue: IncomingQueue;
  private readonly stopController = new AbortController();
  private loop: Promise<void> = Promise.resolve();
  private sequence = 0;

  constructor(options: FolderSourceOptions) {
    super();
    this.name = options.name;
    this.path = resolve(options.path);
    this.spool = resolve(options.spool);
    this.failed = resolve(options.failed ?? join(this.spool, "..", "failed"));
    this.stableMs = options.stableMs ?? 2000;
    this.log = options.logger ?? silentLogger;
    this.queue = new IncomingQueue({
      path: this.path,
      order: "ready",
      settleMs: this.stableMs,
      rejectAfterMs: this.stableMs,
      incompleteAfterMs: options.incompleteAfterMs ?? 60_000,
      rescanMs: options.rescanMs ?? 5000,
      logger: this.log,
    });
  }

  /** Finishes what a crash cut short, scans the inbox, and starts watching it. */
  async start(): Promise<void> {
    await mkdir(this.spool, { recursive: true });
    await this.finishInterruptedMoves();
    await this.queue.start();
    this.loop = this.run();
  }

  /** Stops watching; a file being moved is finished first. */
  async stop(): Promise<void> {
    this.stopController.abort();
    await this.queue.stop();
    await this.loop;
  }

  /** Lists the inbox now; resolves when the listing is done (for tests and status). */
  scan(): Promise<void> {
    return this.queue.scan();
  }

  private async run(): Promise<void> {
    const stop = this.stopController.signal;
    for (let item = await this.queue.next(stop); item !== null; item = await this.queue.next(stop)) {
      const { file } = item;
      try {
        if (item.kind === "capture") await this.ingest(file.path);
        else if (item.reason === "symlink") {
          this.log.warn("inbox-entry-ignored", {
            source: this.name,
            path: file.path,
            why: "not a regular file (symlinks are not followed)",
          });
          this.queue.ignore(file.name);
          continue;
        } else await this.reject(file.path, item.check?.error ?? null);
        this.queue.done(file.name);
      } catch (error) {
        this.emit("error", error as Error);
        await systemClock.sleep(this.stableMs, stop);
        this.queue.release(file.name);
      }
    }
  }

  private async ingest(path: string): Promise<void> {
    const summary = await inspectCapture(path);
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
    // capture ever replaces a file of the same name: a name taken gets the next sequence.
    let name = "";
    for (;;) {
      name = `${safeLabel(this.name)}-${compactUtc(startMs)}-${this.nextSequence()}.${extension}`;
      const sidecar = join(this.spool, sidecarOf(name));
      if (
        !(await writeFileAtomic(sidecar, `${JSON.stringify(manifest(name), null, 2)}\n`, { replace: false }))
      )
        continue;
      try {
        if ((await moveFile(path, this.spool, name, { onConflict: "fail" })) !== null) break;
        await removeFile(sidecar);
        return; // taken away meanwhile
      } catch (error) {
        await removeFile(sidecar).catch(() => {});
        if (!(SpoolError.isInstance(error) && error.reason === "conflict")) throw error;
      }
    }
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

  private async reject(path: string, error: PcapFormatError | null): Promise<void> {
    let rejected: RejectedFile | null = null;
    await setAside(path, this.failed, (movedTo) => {
      rejected = {
        path,
        movedTo,
        reason: error?.reason ?? "unreadable",
        offset: error?.offset ?? null,
        message: error?.message ?? "not a capture",
      };
      return { ...rejected };
    });
    if (rejected === null) return;
    this.log.warn("inbox-file-rejected", { source: this.name, ...(rejected as RejectedFile) });
    this.emit("rejected", rejected);
  }

  // A crash between publishing a file into the spool and unlinking it from the inbox leaves both: the
  // sidecar's origin recognises the inbox file, which is then only unlinked. Leftover copies are removed.
  private async finishInterruptedMoves(): Promise<void> {
    for (const entry of await readdir(this.spool)) {
      if (entry.startsWith(".") && entry.endsWith(".moving")) {
        await removeFile(join(this.spool, entry)).catch(() => {});
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
      const published = await pathExists(manifest.path);
      const origin = await lstat(manifest.origin.path).catch(() => null);
      const same =
        origin !== null &&
        origin.size === manifest.origin.size &&
        origin.mtimeMs === manifest.origin.mtimeMs &&
        origin.ino === manifest.origin.ino &&
        origin.dev === manifest.origin.dev;
      if (!published) {
        await removeFile(join(this.spool, entry)).catch(() => {}); // the sidecar of a move that never happened
        continue;
      }
      if (same) {
        await removeFile(manifest.origin.path);
        this.log.info("inbox-move-finished", {
          source: this.name,
          from: manifest.origin.path,
          to: manifest.path,
        });
      }
    }
  }
}
