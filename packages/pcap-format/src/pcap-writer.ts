import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, writeSync } from "node:fs";
import type { Writable } from "node:stream";
import { hostIsLittleEndian, writeU16, writeU32 } from "./bytes.js";
import { CaptureDecoder } from "./capture-decoder.js";
import {
  effectiveSnaplen,
  MAX_CAPTURE_LENGTH,
  PCAP_FILE_HEADER_LENGTH,
  PCAP_MAGIC_KUZNETSOV,
  PCAP_MAGIC_MICRO,
  PCAP_MAGIC_NANO,
  PCAP_RECORD_HEADER_LENGTH,
} from "./constants.js";
import type { DecoderSink } from "./decoder-sink.js";
import { PcapFormatError } from "./errors.js";
import { precisionOf } from "./timestamp.js";
import type { Endianness, InterfaceInfo, Precision, SectionInfo } from "./types.js";

/** What a classic pcap file header says. */
export interface PcapWriterOptions {
  /** LINKTYPE_ value of every packet. */
  linkType: number;
  /** Snapshot length written in the header; longer packets are cut to it (default 262144). */
  snaplen?: number;
  /** Timestamp precision (default "micro"). */
  precision?: Precision;
  /** Byte order (default: the host's, as libpcap writes). */
  endianness?: Endianness;
  /** FCS length in bytes recorded in the link-type field's extension bits, or null (default). */
  fcsLength?: number | null;
  /**
   * The link-type field's upper six bits as another file had them (`InterfaceInfo.linkTypeExtension`),
   * written as they are, the way libpcap copies them (default 0).
   */
  linkTypeExtension?: number;
  /** Classic header `thiszone` (default 0). */
  timezoneOffset?: number;
  /** Classic header `sigfigs` (default 0). */
  sigfigs?: number;
  /** Bytes gathered before one write (default 1 MiB). */
  bufferSize?: number;
}

/** Where a writer puts its bytes: a path (created or truncated), an open fd, or a Writable stream. */
export type WriteTarget = string | number | Writable;

/** A packet to write: a timestamp, its captured bytes and optionally its length on the wire. */
export interface PacketInput {
  seconds: number;
  nanoseconds: number;
  data: Uint8Array;
  /** Defaults to the captured length. */
  originalLength?: number;
}

/** Options for appending to an existing file: whatever is given must match its header. */
export interface AppendOptions extends Partial<PcapWriterOptions> {
  /** Cut a truncated last record (a crash mid-write) before appending instead of refusing. */
  repairTruncated?: boolean;
}

type Output =
  | { kind: "fd"; fd: number; owned: boolean; position: number | null }
  | { kind: "stream"; stream: Writable; end: boolean };

const DEFAULT_BUFFER_SIZE = 1 << 20;
const DIRECT_WRITE_THRESHOLD = 64 * 1024;

/**
 * Writes classic pcap (micro or nano) in large batches: packets gather in one buffer that goes out in a
 * single write when full, on flush() and on close(); a record larger than the buffer goes out on its own.
 * Files and fds are written synchronously, like libpcap's pcap_dump; streams get one chunk per batch and
 * report backpressure through write's return.
 */
export class PcapWriter {
  readonly linkType: number;
  readonly snaplen: number;
  readonly precision: Precision;
  readonly endianness: Endianness;
  private readonly le: boolean;
  private readonly nano: boolean;
  private buffer: Buffer;
  private used = 0;
  private packetCount = 0;
  private written = 0;
  private closed = false;
  private headerAt: number;

  private constructor(
    private readonly output: Output,
    options: PcapWriterOptions,
    writeHeader: boolean,
    startOffset: number,
  ) {
    const snaplen = options.snaplen ?? MAX_CAPTURE_LENGTH;
    if (!Number.isInteger(snaplen) || snaplen < 1 || snaplen > 0x7fffffff) {
      throw new PcapFormatError(
        "bad-argument",
        `snaplen must be an integer from 1 to 2^31-1, got ${snaplen}`,
        {
          offset: 0,
          option: "snaplen",
        },
      );
    }
    if (!Number.isInteger(options.linkType) || options.linkType < 0 || options.linkType > 0xffff) {
      throw new PcapFormatError(
        "bad-argument",
        `linkType must be an integer from 0 to 65535, got ${options.linkType}`,
        {
          offset: 0,
          option: "linkType",
        },
      );
    }
    this.linkType = options.linkType;
    this.snaplen = snaplen;
    this.precision = options.precision ?? "micro";
    this.endianness = options.endianness ?? (hostIsLittleEndian ? "little" : "big");
    this.le = this.endianness === "little";
    this.nano = this.precision === "nano";
    // Not sized by the snaplen: files libpcap reads may say 2^31-1, and larger records bypass the buffer.
    this.buffer = Buffer.allocUnsafeSlow(Math.max(options.bufferSize ?? DEFAULT_BUFFER_SIZE, 4096));
    this.written = startOffset;
    this.headerAt = writeHeader ? startOffset : -1;
    if (writeHeader) this.encodeHeader(options);
  }

  /** Starts a new capture at a path (created or truncated), an open fd, or a Writable stream. */
  static create(target: WriteTarget, options: PcapWriterOptions & { endStream?: boolean }): PcapWriter {
    let output: Output;
    if (typeof target === "string")
      output = { kind: "fd", fd: openSync(target, "w"), owned: true, position: 0 };
    else if (typeof target === "number") output = { kind: "fd", fd: target, owned: false, position: null };
    else output = { kind: "stream", stream: target, end: options.endStream ?? true };
    try {
      return new PcapWriter(output, options, true, 0);
    } catch (error) {
      if (output.kind === "fd" && output.owned) closeSync(output.fd);
      throw error;
    }
  }

  /**
   * Opens an existing classic pcap to add packets after its last record, in its own byte order and
   * precision. A missing or empty file is created like `create`. Refuses a file whose header differs from
   * `options`, a pcapng file, and an invalid file (a truncated end is cut first with `repairTruncated`).
   */
  static append(path: string, options: AppendOptions = {}): PcapWriter {
    let fd: number;
    try {
      fd = openSync(path, "r+");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      return PcapWriter.create(path, requireLinkType(options, path));
    }
    try {
      if (fstatSync(fd).size === 0) {
        const writer = new PcapWriter(
          { kind: "fd", fd, owned: true, position: 0 },
          requireLinkType(options, path),
          true,
          0,
        );
        return writer;
      }
      const existing = readExisting(fd, path, options.repairTruncated ?? false);
      checkMatch(existing, options, path);
      const merged: PcapWriterOptions = {
        linkType: existing.iface.linkType,
        snaplen: effectiveSnaplen(existing.iface.linkType, existing.iface.snaplen),
        precision: precisionOf(existing.iface.resolution),
        endianness: existing.section.endianness,
      };
      if (options.bufferSize !== undefined) merged.bufferSize = options.bufferSize;
      const writer = new PcapWriter(
        { kind: "fd", fd, owned: true, position: existing.end },
        merged,
        false,
        existing.end,
      );
      writer.packetCount = existing.packets;
      return writer;
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  /** Packets written (and, after append, packets already in the file). */
  get packets(): number {
    return this.packetCount;
  }

  /** Size of the capture so far, including bytes still in the batch buffer. */
  get size(): number {
    return this.written + this.used;
  }

  /**
   * Bytes handed to the target so far (the batch buffer excluded). After a failed write (a full disk)
   * this is how far the file reached, perhaps into a record: cut it there, then back to its last whole
   * record (verifyCapture's validBytes), to salvage it.
   */
  get committedSize(): number {
    return this.written;
  }

  /**
   * Adds one packet. Data longer than the snaplen is cut to it; the original length (by default the
   * captured length) is written as given. Returns false when a stream target wants the caller to await
   * drain().
   */
  writePacket(packet: PacketInput): boolean {
    const { data } = packet;
    return this.writeSlice(
      packet.seconds,
      packet.nanoseconds,
      packet.originalLength ?? data.length,
      data,
      0,
      data.length,
    );
  }

  /** writePacket without the object: the captured bytes are `source[start, end)`. */
  writeSlice(
    seconds: number,
    nanoseconds: number,
    originalLength: number,
    source: Uint8Array,
    start: number,
    end: number,
  ): boolean {
    this.assertOpen();
    if (!(seconds >= 0 && seconds <= 0xffffffff && nanoseconds >= 0 && nanoseconds < 1_000_000_000)) {
      throw new PcapFormatError(
        "timestamp-out-of-range",
        this.size,
        `timestamp ${seconds}s ${nanoseconds}ns does not fit a classic pcap record`,
      );
    }
    const fraction = this.nano ? nanoseconds : Math.floor(nanoseconds / 1000);
    return this.writeRawSlice(seconds, fraction, originalLength, source, start, end);
  }

  /**
   * writeSlice with the header's two time fields as another classic file held them: `fraction` is in this
   * writer's unit (µs or ns) and written as given, also when it is a second or more, as libpcap's pcap_dump
   * copies what it read. For converters; both fields must fit 32 bits.
   */
  writeRawSlice(
    seconds: number,
    fraction: number,
    originalLength: number,
    source: Uint8Array,
    start: number,
    end: number,
  ): boolean {
    this.assertOpen();
    const caplen = Math.min(end - start, this.snaplen);
    const length = PCAP_RECORD_HEADER_LENGTH + caplen;
    let ok = true;
    if (this.used + length > this.buffer.length) ok = this.emit();
    const large = length > this.buffer.length;
    const buf = large ? Buffer.allocUnsafe(PCAP_RECORD_HEADER_LENGTH) : this.buffer;
    const at = large ? 0 : this.used;
    const le = this.le;
    writeU32(buf, at, seconds, le);
    writeU32(buf, at + 4, fraction, le);
    writeU32(buf, at + 8, caplen, le);
    writeU32(buf, at + 12, originalLength, le);
    this.packetCount++;
    if (large) {
      ok = this.send(buf, false) && ok;
      return this.send(source.subarray(start, start + caplen), this.output.kind === "stream") && ok;
    }
    copyBytes(source, start, caplen, buf, at + PCAP_RECORD_HEADER_LENGTH);
    this.used = at + length;
    return ok;
  }

  /**
   * Adds one record whose 16-byte header is already encoded in this writer's byte order and precision,
   * as libpcap hands packets over; `data[0, capturedLength)` are its bytes. The capture hot path.
   */
  writeRecord(header: Uint8Array, data: Uint8Array, capturedLength: number): boolean {
    this.assertOpen();
    let ok = true;
    if (this.used + PCAP_RECORD_HEADER_LENGTH + capturedLength > this.buffer.length) ok = this.emit();
    if (PCAP_RECORD_HEADER_LENGTH + capturedLength > this.buffer.length) {
      this.packetCount++;
      const copy = this.output.kind === "stream";
      ok = this.send(header.subarray(0, PCAP_RECORD_HEADER_LENGTH), copy) && ok;
      return this.send(data.subarray(0, capturedLength), copy) && ok;
    }
    const at = this.used;
    copyBytes(header, 0, PCAP_RECORD_HEADER_LENGTH, this.buffer, at);
    copyBytes(data, 0, capturedLength, this.buffer, at + PCAP_RECORD_HEADER_LENGTH);
    this.used = at + PCAP_RECORD_HEADER_LENGTH + capturedLength;
    this.packetCount++;
    return ok;
  }

  /**
   * Adds records already encoded in this writer's byte order and precision (for example copied from a
   * file with the same header, or a capture batch). Runs of 64 KiB or more go straight to the target after
   * what is buffered, without being copied through the buffer.
   */
  writeEncoded(records: Uint8Array, packets: number): boolean {
    this.assertOpen();
    this.packetCount += packets;
    if (records.length < DIRECT_WRITE_THRESHOLD && records.length <= this.buffer.length - this.used) {
      this.buffer.set(records, this.used);
      this.used += records.length;
      return true;
    }
    let ok = this.emit();
    if (records.length >= DIRECT_WRITE_THRESHOLD) {
      ok = this.send(records, this.output.kind === "stream") && ok;
      return ok;
    }
    this.buffer.set(records, 0);
    this.used = records.length;
    return ok;
  }

  /** Changes the header's snaplen, also after the header went out (files and fds opened by path only). */
  setSnaplen(snaplen: number): void {
    this.assertOpen();
    if (this.headerAt < 0) throw new Error("setSnaplen: this writer did not write the header");
    const fieldAt = this.headerAt + 16;
    if (fieldAt >= this.written) {
      writeU32(this.buffer, fieldAt - this.written, snaplen, this.le);
    } else if (this.output.kind === "fd" && this.output.position !== null) {
      const field = Buffer.alloc(4);
      writeU32(field, 0, snaplen, this.le);
      writeSync(this.output.fd, field, 0, 4, fieldAt);
    } else {
      throw new Error("setSnaplen: the header was already sent to a stream");
    }
    (this as { snaplen: number }).snaplen = snaplen;
  }

  /** Resolves when a stream target has room again (immediately for files). */
  async drain(): Promise<void> {
    const output = this.output;
    if (output.kind !== "stream" || !output.stream.writableNeedDrain) return;
    await new Promise<void>((resolve, reject) => {
      const onDrain = (): void => {
        output.stream.off("error", onError);
        resolve();
      };
      const onError = (error: Error): void => {
        output.stream.off("drain", onDrain);
        reject(error);
      };
      output.stream.once("drain", onDrain);
      output.stream.once("error", onError);
    });
  }

  /** Writes out the batch buffer now, without waiting for a stream to drain. */
  flushSync(): void {
    this.assertOpen();
    this.emit();
  }

  /** Writes out the batch buffer. */
  async flush(): Promise<void> {
    this.assertOpen();
    this.emit();
    await this.drain();
  }

  /** Flushes and, for file targets, fsyncs: after this resolves the bytes are on stable storage. */
  async sync(): Promise<void> {
    await this.flush();
    if (this.output.kind === "fd") fsyncSync(this.output.fd);
  }

  /** Flushes and closes: a path's fd is closed; a stream is ended unless `endStream: false` was given. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.emit();
    this.closed = true;
    const output = this.output;
    if (output.kind === "fd") {
      if (output.owned) closeSync(output.fd);
      return;
    }
    if (!output.end) {
      await this.drainStream(output.stream);
      return;
    }
    await new Promise<void>((resolve, reject) => {
      output.stream.once("error", reject);
      output.stream.end(() => resolve());
    });
  }

  /** Closes the file descriptor without flushing (after a failure, when the output will be discarded). */
  abort(): void {
    if (this.closed) return;
    this.closed = true;
    this.used = 0;
    if (this.output.kind === "fd" && this.output.owned) closeSync(this.output.fd);
    if (this.output.kind === "stream" && this.output.end) this.output.stream.destroy();
  }

  private async drainStream(stream: Writable): Promise<void> {
    if (!stream.writableNeedDrain) return;
    await new Promise<void>((resolve) => stream.once("drain", () => resolve()));
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("PcapWriter is closed");
  }

  private encodeHeader(options: PcapWriterOptions): void {
    const buf = this.buffer;
    const le = this.le;
    writeU32(buf, 0, this.nano ? PCAP_MAGIC_NANO : PCAP_MAGIC_MICRO, le);
    writeU16(buf, 4, 2, le);
    writeU16(buf, 6, 4, le);
    writeU32(buf, 8, options.timezoneOffset ?? 0, le);
    writeU32(buf, 12, options.sigfigs ?? 0, le);
    writeU32(buf, 16, this.snaplen, le);
    const fcs = options.fcsLength;
    const fcsBits = fcs === null || fcs === undefined ? 0 : 0x04000000 | (((fcs / 2) & 0xf) << 28);
    const extension = (options.linkTypeExtension ?? 0) & 0xfc000000;
    writeU32(buf, 20, (this.linkType | fcsBits | extension) >>> 0, le);
    this.used = PCAP_FILE_HEADER_LENGTH;
  }

  // Sends the batch buffer; returns false under stream backpressure.
  private emit(): boolean {
    if (this.used === 0) return true;
    const length = this.used;
    this.used = 0;
    if (this.output.kind === "stream") {
      const chunk = this.buffer.subarray(0, length);
      this.buffer = Buffer.allocUnsafeSlow(this.buffer.length);
      this.written += length;
      return this.output.stream.write(chunk);
    }
    return this.send(this.buffer.subarray(0, length), false);
  }

  private send(bytes: Uint8Array, copy: boolean): boolean {
    const output = this.output;
    if (output.kind === "stream") {
      this.written += bytes.length;
      return output.stream.write(copy ? Buffer.from(bytes) : bytes);
    }
    let done = 0;
    while (done < bytes.length) {
      const n = writeSync(output.fd, bytes, done, bytes.length - done, output.position);
      done += n;
      // Counted as it goes: after a short write and then a failure (a disk filling up), committedSize
      // still covers every byte that reached the file.
      this.written += n;
      if (output.position !== null) output.position += n;
    }
    return true;
  }
}

// Buffer#copy moves bytes without the view object that `target.set(source.subarray(...))` allocates.
function copyBytes(source: Uint8Array, start: number, length: number, target: Buffer, at: number): void {
  Buffer.prototype.copy.call(source, target, at, start, start + length);
}

function requireLinkType(options: AppendOptions, path: string): PcapWriterOptions {
  if (options.linkType === undefined) {
    throw new TypeError(`cannot create ${path} for appending without a linkType`);
  }
  return options as PcapWriterOptions;
}

interface ExistingCapture {
  section: SectionInfo;
  iface: InterfaceInfo;
  packets: number;
  end: number;
}

function readExisting(fd: number, path: string, repair: boolean): ExistingCapture {
  let section: SectionInfo | null = null;
  let iface: InterfaceInfo | null = null;
  let packets = 0;
  const sink: DecoderSink = {
    packet: () => {
      packets++;
    },
    section: (info) => {
      section = info;
    },
    interface: (info) => {
      iface = info;
    },
  };
  const decoder = new CaptureDecoder(sink);
  let failure: PcapFormatError | null = null;
  try {
    for (const chunk of readFromStart(fd)) decoder.push(chunk);
    decoder.end();
  } catch (error) {
    if (!PcapFormatError.isInstance(error)) throw error;
    failure = error;
  }
  if (decoder.format === "pcapng") {
    throw new PcapFormatError(
      "header-mismatch",
      0,
      `cannot append classic pcap records to pcapng file ${path}`,
    );
  }
  // Records are appended in version 2.4's layout, so only a 2.4 file takes them (libpcap's rule too).
  const version = section as SectionInfo | null;
  const magic = Buffer.alloc(4);
  readSync(fd, magic, 0, 4, 0);
  const kuznetsov =
    magic.readUInt32LE(0) === PCAP_MAGIC_KUZNETSOV || magic.readUInt32BE(0) === PCAP_MAGIC_KUZNETSOV;
  if (kuznetsov || (version && (version.versionMajor !== 2 || version.versionMinor !== 4))) {
    const what = kuznetsov
      ? "Kuznetsov's record format"
      : `version ${version!.versionMajor}.${version!.versionMinor}`;
    throw new PcapFormatError("header-mismatch", 0, `cannot append to ${path}: it has ${what}, not pcap 2.4`);
  }
  if (failure) {
    if (!(repair && failure.reason === "truncated-record")) throw failure;
    ftruncateSync(fd, decoder.offset);
  }
  if (!section || !iface) throw new PcapFormatError("truncated-header", 0, `${path} has no complete header`);
  return { section, iface, packets, end: decoder.offset };
}

// Reads a descriptor from offset 0 regardless of its current position.
function* readFromStart(fd: number): Generator<Uint8Array> {
  const buf = Buffer.allocUnsafeSlow(1 << 20);
  let position = 0;
  for (;;) {
    const n = readSync(fd, buf, 0, buf.length, position);
    if (n === 0) return;
    position += n;
    yield buf.subarray(0, n);
  }
}

function checkMatch(existing: ExistingCapture, options: AppendOptions, path: string): void {
  const { iface } = existing;
  const mismatch = (field: string, have: unknown, want: unknown): never => {
    throw new PcapFormatError(
      "header-mismatch",
      iface.offset,
      `cannot append to ${path}: its ${field} is ${String(have)}, the writer's is ${String(want)}`,
    );
  };
  if (options.linkType !== undefined && options.linkType !== iface.linkType) {
    mismatch("linkType", iface.linkType, options.linkType);
  }
  const precision = precisionOf(iface.resolution);
  if (options.precision !== undefined && options.precision !== precision) {
    mismatch("precision", precision, options.precision);
  }
  if (options.snaplen !== undefined && options.snaplen !== iface.snaplen) {
    mismatch("snaplen", iface.snaplen, options.snaplen);
  }
  if (options.endianness !== undefined && options.endianness !== existing.section.endianness) {
    mismatch("endianness", existing.section.endianness, options.endianness);
  }
}
