import { EventEmitter } from "node:events";
import {
  close as closeCallback,
  closeSync,
  fstat as fstatCallback,
  fsync as fsyncCallback,
  ftruncateSync,
  openSync,
} from "node:fs";
import { unlink } from "node:fs/promises";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import {
  formatTimestamp,
  inspectCapture,
  MAX_CAPTURE_LENGTH,
  type PacketRecord,
  PcapWriter,
  type Precision,
} from "@sluice/pcap-format";
import {
  DEFAULT_NAME_TEMPLATE,
  fillNameTemplate,
  hiddenName,
  publishFile,
  syncDirectory,
} from "@sluice/spool";
import { SpoolError, type SpoolErrorReason } from "./errors.js";
import {
  type FileDrops,
  type FileManifest,
  type FinishReason,
  type SpoolDrops,
  writeManifest,
} from "./manifest.js";
import { nextBoundary, type ResolvedPolicy, type RotationPolicy, resolvePolicy } from "./rotation-policy.js";

/** Options of one source's rotation into a directory. */
export interface RotatorOptions {
  /** Where finished files appear (written under hidden names in the same directory until complete). */
  dir: string;
  /** Source label, part of every file name. */
  source: string;
  policy?: RotationPolicy;
  /** Name template: {source}, {start}, {startMs}, {seq} (default "{source}-{start}-{seq}"). */
  nameTemplate?: string;
  /** Timestamp precision of files written from PacketRecords (default "micro"; libpcap records are micro). */
  precision?: Precision;
  /** Snapshot length for files written from PacketRecords (default 262144). */
  snaplen?: number;
  /** fsync files and the directory before a file is announced (default true). */
  fsync?: boolean;
}

export interface RotatorEvents {
  /** A file is complete under its final name, with its sidecar manifest next to it. */
  file: [FileManifest];
  /** The spool could not take packets; they are dropped and counted until the next interval. */
  error: [SpoolError];
}

/** Totals since start. */
export interface RotatorStats {
  files: number;
  packets: number;
  bytes: number;
  /** Packets dropped because the spool was full or unwritable: the sum of `droppedBySpoolReasons`. */
  droppedBySpool: number;
  /** `droppedBySpool` by the SpoolError reason that cost them. */
  droppedBySpoolReasons: SpoolDrops;
}

/** The file a rotator is writing: its final name, the start of its interval, and what it holds so far. */
export interface OpenFileInfo {
  name: string;
  /** Start of the file's interval (ms since the epoch): the time in its name. */
  startMs: number;
  packets: number;
  bytes: number;
}

interface OpenFile {
  fd: number;
  writer: PcapWriter;
  name: string;
  partial: string;
  sequence: number;
  startMs: number;
  packets: number;
  bytes: number;
  firstSeconds: number;
  firstNanos: number;
  lastSeconds: number;
  lastNanos: number;
  drops: FileDrops;
  linkType: number;
  snaplen: number;
  precision: Precision;
}

const fsyncFd = promisify(fsyncCallback);
const fstatFd = promisify(fstatCallback);
const closeFd = promisify(closeCallback);

const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Cuts one source's packets into files. A file is written under a hidden name in `dir`, then flushed,
 * fsynced and renamed (linked, never over an existing name) to its final name, so a file with a final
 * name is always complete. Rotation happens on wall-clock time driven by a timer (also on an idle link),
 * on size and on packet count, whichever comes first; a file is opened only when its first packet
 * arrives, so an interval without packets makes no file unless `keepEmpty`.
 */
export class Rotator extends EventEmitter<RotatorEvents> {
  readonly dir: string;
  readonly source: string;
  private readonly policy: ResolvedPolicy;
  private readonly template: string;
  private readonly precision: Precision;
  private readonly fsyncFiles: boolean;
  private linkType = 1;
  private snaplen: number;
  private file: OpenFile | null = null;
  private sequence = 0;
  private intervalStart = 0;
  private nextFileStart = 0;
  private boundary = 0;
  private timer: NodeJS.Timeout | null = null;
  /** Why the spool failed in this interval (packets are dropped, counted under it, until the next), or null. */
  private failed: SpoolErrorReason | null = null;
  private pendingDrops: FileDrops = noDrops();
  private finishing: Promise<unknown> = Promise.resolve();
  private running = false;
  private flushScheduled = false;
  private readonly totals: RotatorStats = {
    files: 0,
    packets: 0,
    bytes: 0,
    droppedBySpool: 0,
    droppedBySpoolReasons: {},
  };

  constructor(options: RotatorOptions) {
    super();
    this.dir = resolve(options.dir);
    this.source = options.source;
    this.policy = resolvePolicy(options.policy);
    this.template = options.nameTemplate ?? DEFAULT_NAME_TEMPLATE;
    this.precision = options.precision ?? "micro";
    this.snaplen = options.snaplen ?? MAX_CAPTURE_LENGTH;
    this.fsyncFiles = options.fsync ?? true;
    this.nameFor(0, 0); // a bad template fails here, not at the first packet
  }

  /** Totals since start. */
  get stats(): RotatorStats {
    return { ...this.totals, droppedBySpoolReasons: { ...this.totals.droppedBySpoolReasons } };
  }

  /** The file being written, or null between files. */
  get current(): OpenFileInfo | null {
    const file = this.file;
    return file && { name: file.name, startMs: file.startMs, packets: file.packets, bytes: file.bytes };
  }

  /** Link type and snaplen of the files written with writeRecord (the capture's). */
  setFormat(linkType: number, snaplen: number): void {
    this.linkType = linkType;
    this.snaplen = snaplen;
  }

  /** Starts the clock: the first interval begins now. */
  start(now = Date.now()): void {
    this.running = true;
    this.intervalStart = now;
    this.nextFileStart = now;
    this.boundary = nextBoundary(now, now, this.policy);
    this.arm();
    if (this.policy.keepEmpty) this.openFile();
  }

  /**
   * One record whose 16-byte header is already encoded in host byte order with microseconds, as
   * libpcap hands it over; `data[0, capturedLength)` are its bytes. node_pcap's capture path.
   */
  writeRecord(header: Uint8Array, data: Uint8Array, capturedLength: number): void {
    const file = this.fileFor(this.linkType, 1);
    if (file === null) return;
    try {
      file.writer.writeRecord(header, data, capturedLength);
    } catch (error) {
      this.spoolFailure(error, file, 1);
      return;
    }
    const seconds = readU32(header, 0);
    const nanos = readU32(header, 4) * 1000;
    this.count(file, 1, capturedLength, seconds, nanos, seconds, nanos);
  }

  /**
   * `count` records encoded like writeRecord's (host byte order, microseconds), back to back in
   * `records[offsets[0], offsets[count])`, record i starting at `offsets[i]`: the packet-io addon's
   * batches. Each file the batch lands in gets one write; the batch is split only where a size or count
   * rotation falls, found from the offsets (the same places writeRecord would rotate at), and only the
   * first and last record headers of each part are read.
   */
  writeBatch(records: Uint8Array, offsets: Uint32Array, count: number): void {
    let first = 0;
    while (first < count) {
      const file = this.fileFor(this.linkType, count - first);
      if (file === null) return;
      const take = this.fitting(file, offsets, first, count);
      const start = offsets[first]!;
      const end = offsets[first + take]!;
      try {
        file.writer.writeEncoded(records.subarray(start, end), take);
      } catch (error) {
        this.spoolFailure(error, file, take);
        // The rest of the batch was never tried: the spool has failed for this interval.
        this.noteSpoolDrops(this.failed ?? "io", count - first - take);
        return;
      }
      const last = offsets[first + take - 1]!;
      this.count(
        file,
        take,
        end - start - 16 * take,
        readU32(records, start),
        readU32(records, start + 4) * 1000,
        readU32(records, last),
        readU32(records, last + 4) * 1000,
      );
      first += take;
    }
  }

  /** One packet from any source; a packet of another link type than the open file's starts a new file. */
  writePacket(packet: PacketRecord): void {
    const file = this.fileFor(packet.linkType, 1);
    if (file === null) return;
    try {
      file.writer.writePacket(packet);
    } catch (error) {
      this.spoolFailure(error, file, 1);
      return;
    }
    const { seconds, nanoseconds } = packet;
    const length = Math.min(packet.data.length, file.snaplen);
    this.count(file, 1, length, seconds, nanoseconds, seconds, nanoseconds);
  }

  /** Adds drops seen while the current file is open (or, with none open, to the next file). */
  noteDrops(kind: "kernel" | "interface", count: number): void {
    if (count <= 0) return;
    (this.file?.drops ?? this.pendingDrops)[kind] += count;
  }

  // Packets the spool lost, counted in `drops` (a failed file's own, else the open or next file's).
  private noteSpoolDrops(reason: SpoolErrorReason, count: number, drops?: FileDrops): void {
    if (count <= 0) return;
    const into = drops ?? this.file?.drops ?? this.pendingDrops;
    into.spool += count;
    into.spoolReasons[reason] = (into.spoolReasons[reason] ?? 0) + count;
    this.totals.droppedBySpool += count;
    this.totals.droppedBySpoolReasons[reason] = (this.totals.droppedBySpoolReasons[reason] ?? 0) + count;
  }

  /** Finishes the current file now; resolves with its manifest once it is final (null if none). */
  rotate(reason: FinishReason = "manual"): Promise<FileManifest | null> {
    const file = this.file;
    this.file = null;
    const now = Date.now();
    this.nextFileStart = now; // the next file starts where this one was cut
    const done = file ? this.finish(file, reason) : Promise.resolve(null);
    if (this.running && this.policy.keepEmpty && reason !== "stop") this.openFile();
    return done;
  }

  /** Finishes the open file and waits until every file is final. */
  async stop(): Promise<FileManifest | null> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const last = await this.rotate("stop");
    await this.finishing;
    return last;
  }

  // The open file for packets of this link type, or null (then `packets` are counted as spool drops).
  private fileFor(linkType: number, packets: number): OpenFile | null {
    if (this.failed !== null) {
      this.noteSpoolDrops(this.failed, packets);
      return null;
    }
    let file = this.file;
    if (file !== null && file.linkType !== linkType) {
      this.linkType = linkType;
      void this.rotate("linktype");
      file = this.file;
    }
    if (file === null) {
      this.linkType = linkType;
      file = this.openFile();
      if (file === null) this.noteSpoolDrops(this.failed ?? "io", packets);
    }
    return file;
  }

  // How many of the records from `first` go into this file before a count or size rotation: as with
  // writeRecord, the record that reaches the size limit is the file's last. A binary search of offsets.
  private fitting(file: OpenFile, offsets: Uint32Array, first: number, count: number): number {
    let take = Math.min(count - first, this.policy.maxPackets - file.packets);
    const room = this.policy.maxBytes - file.writer.size;
    const start = offsets[first]!;
    if (offsets[first + take]! - start < room) return take;
    let low = 1;
    while (low < take) {
      const middle = (low + take) >>> 1;
      if (offsets[first + middle]! - start >= room) take = middle;
      else low = middle + 1;
    }
    return take;
  }

  // Counts `packets` just written (their captured bytes, first and last times) and rotates at a limit.
  private count(
    file: OpenFile,
    packets: number,
    capturedBytes: number,
    firstSeconds: number,
    firstNanos: number,
    lastSeconds: number,
    lastNanos: number,
  ): void {
    if (file.packets === 0) {
      file.firstSeconds = firstSeconds;
      file.firstNanos = firstNanos;
    }
    file.lastSeconds = lastSeconds;
    file.lastNanos = lastNanos;
    file.packets += packets;
    file.bytes += capturedBytes;
    this.totals.packets += packets;
    this.totals.bytes += capturedBytes;
    if (file.packets >= this.policy.maxPackets) void this.rotate("count");
    else if (file.writer.size >= this.policy.maxBytes) void this.rotate("size");
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushBatch);
    }
  }

  // Packets arrive in bursts (one libpcap dispatch, one socket chunk): writing each burst out as soon as
  // it has been taken means a crash costs at most the burst being written, never a buffer's worth.
  private readonly flushBatch = (): void => {
    this.flushScheduled = false;
    const file = this.file;
    if (file === null) return;
    try {
      file.writer.flushSync();
    } catch (error) {
      this.spoolFailure(error, file, 0);
    }
  };

  // Opens the next file under a hidden name; on failure the spool is marked failed until the next interval.
  private openFile(): OpenFile | null {
    const startMs = this.nextFileStart;
    for (let attempt = 0; attempt < 1000; attempt++) {
      const sequence = ++this.sequence;
      const name = this.nameFor(startMs, sequence);
      const partial = join(this.dir, hiddenName(name));
      let fd: number;
      try {
        fd = openSync(partial, "wx", 0o644);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "EEXIST") continue;
        this.spoolFailure(error, null, 0, partial);
        return null;
      }
      const precision = this.precision;
      let writer: PcapWriter;
      try {
        writer = PcapWriter.create(fd, { linkType: this.linkType, snaplen: this.snaplen, precision });
      } catch (error) {
        closeSync(fd);
        throw error;
      }
      const file: OpenFile = {
        fd,
        writer,
        name,
        partial,
        sequence,
        startMs,
        packets: 0,
        bytes: 0,
        firstSeconds: 0,
        firstNanos: 0,
        lastSeconds: 0,
        lastNanos: 0,
        drops: this.pendingDrops,
        linkType: this.linkType,
        snaplen: this.snaplen,
        precision,
      };
      this.pendingDrops = noDrops();
      this.file = file;
      return file;
    }
    throw new Error(`no free file name for ${this.source} in ${this.dir}`);
  }

  // The spool refused a write: keep what is on disk of this file, drop and count until the next interval.
  // `attempted` are the packets of the write that failed: part of them may have reached the disk (a short
  // write), so they are counted with the file's, and whatever the file holds once it is cut back to its
  // last whole record is what was written; the rest are spool drops.
  private spoolFailure(
    error: unknown,
    file: OpenFile | null,
    attempted: number,
    path = file?.partial ?? this.dir,
  ): void {
    const spoolError = SpoolError.from(error, path, file ? "writing" : "creating");
    this.failed = spoolError.reason;
    this.emit("error", spoolError);
    if (file === null) return;
    file.packets += attempted;
    this.totals.packets += attempted;
    if (this.file === file) this.file = null;
    this.enqueue(() => this.finishAfterFailure(file, spoolError.reason));
  }

  private arm(): void {
    if (!this.running) return;
    const delay = Math.max(0, this.boundary - Date.now());
    this.timer = setTimeout(() => this.onBoundary(), delay);
    this.timer.unref?.();
  }

  private onBoundary(): void {
    const now = Date.now();
    this.intervalStart = this.boundary;
    this.nextFileStart = this.boundary;
    this.boundary = nextBoundary(now, this.intervalStart, this.policy);
    this.failed = null;
    if (this.file !== null || this.policy.keepEmpty) {
      const file = this.file;
      this.file = null;
      if (file) void this.finish(file, "time");
      if (this.policy.keepEmpty) this.openFile();
    }
    this.arm();
  }

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const next = this.finishing.then(task, task);
    this.finishing = next.catch(() => {});
    return next;
  }

  private finish(file: OpenFile, reason: FinishReason): Promise<FileManifest | null> {
    try {
      file.writer.flushSync();
    } catch (error) {
      this.spoolFailure(error, file, 0);
      return this.finishing.then(() => null);
    }
    const endMs = Date.now();
    return this.enqueue(async () => {
      try {
        return await this.finalize(file, reason, endMs);
      } catch (error) {
        this.emit("error", SpoolError.from(error, file.partial, "finalizing"));
        return null;
      }
    });
  }

  private async finishAfterFailure(file: OpenFile, reason: SpoolErrorReason): Promise<FileManifest | null> {
    try {
      const committed = file.writer.committedSize;
      file.writer.abort();
      ftruncateSync(file.fd, committed);
      const verified = await inspectCapture(file.partial);
      if (verified.validBytes < committed) ftruncateSync(file.fd, verified.validBytes);
      // Packets taken into the writer's buffer, and those of the write that failed, were counted with
      // the file; those that did not reach the disk whole are spool drops, under the spool's reason.
      const lost = file.packets - verified.packets;
      this.totals.packets -= lost;
      this.totals.bytes -= file.bytes - verified.bytes;
      file.packets = verified.packets;
      file.bytes = verified.bytes;
      if (verified.firstTime && verified.lastTime) {
        file.firstSeconds = verified.firstTime.seconds;
        file.firstNanos = verified.firstTime.nanoseconds;
        file.lastSeconds = verified.lastTime.seconds;
        file.lastNanos = verified.lastTime.nanoseconds;
      }
      this.noteSpoolDrops(reason, lost, file.drops);
      if (verified.packets === 0) {
        closeSync(file.fd);
        await unlink(file.partial);
        return null;
      }
      return await this.finalize(file, "spool-error", Date.now());
    } catch (error) {
      this.emit("error", SpoolError.from(error, file.partial, "salvaging"));
      return null;
    }
  }

  private async finalize(file: OpenFile, reason: FinishReason, endMs: number): Promise<FileManifest | null> {
    if (file.packets === 0 && !this.policy.keepEmpty) {
      await closeFd(file.fd);
      await unlink(file.partial);
      return null;
    }
    if (this.fsyncFiles) await fsyncFd(file.fd);
    const { size } = await fstatFd(file.fd);
    await closeFd(file.fd);
    const path = await this.publish(file);
    if (this.fsyncFiles) await syncDirectory(this.dir);
    const manifest: FileManifest = {
      event: "file-ready",
      path,
      name: file.name,
      source: this.source,
      sequence: file.sequence,
      start: new Date(file.startMs).toISOString(),
      end: new Date(endMs).toISOString(),
      reason,
      packets: file.packets,
      bytes: file.bytes,
      fileSize: size,
      firstPacketTime: file.packets ? formatTimestamp(file.firstSeconds, file.firstNanos) : null,
      lastPacketTime: file.packets ? formatTimestamp(file.lastSeconds, file.lastNanos) : null,
      linkType: file.linkType,
      snaplen: file.snaplen,
      precision: file.precision,
      drops: file.drops,
    };
    try {
      await writeManifest(manifest, this.fsyncFiles);
    } catch (error) {
      // The file is final and whole; salvage rebuilds a missing sidecar on the next start.
      this.emit("error", SpoolError.from(error, `${path}.json`, "writing the manifest"));
    }
    this.totals.files++;
    this.emit("file", manifest);
    return manifest;
  }

  // Links the partial file to its final name without ever replacing an existing file (a clash takes the
  // next sequence number), then unlinks it.
  private async publish(file: OpenFile): Promise<string> {
    const name = await publishFile(file.partial, this.dir, file.name, {
      fsync: false,
      onConflict: () => {
        file.sequence = ++this.sequence;
        file.name = this.nameFor(file.startMs, file.sequence);
        return file.name;
      },
    });
    return join(this.dir, name);
  }

  private nameFor(startMs: number, sequence: number): string {
    const name = fillNameTemplate(this.template, this.source, startMs, sequence);
    if (name === null) {
      throw new SpoolError("bad-option", `nameTemplate "${this.template}" gives no plain file name`, {
        option: "nameTemplate",
        path: this.dir,
      });
    }
    return name;
  }
}

// A record header field: libpcap writes them in the host's byte order.
function readU32(b: Uint8Array, at: number): number {
  return littleEndianHost ? readLe(b, at) : readBe(b, at);
}

function readLe(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

function readBe(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

function noDrops(): FileDrops {
  return { kernel: 0, interface: 0, spool: 0, spoolReasons: {} };
}
