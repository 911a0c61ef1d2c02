import { renameSync, unlinkSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { type ByteSource, DEFAULT_CHUNK_SIZE, readChunks } from "./byte-source.js";
import { hostIsLittleEndian, u32 } from "./bytes.js";
import { CaptureDecoder, type CaptureDecoderOptions } from "./capture-decoder.js";
import { effectiveSnaplen, writtenLinkType } from "./constants.js";
import type { DecoderSink } from "./decoder-sink.js";
import { PcapFormatError } from "./errors.js";
import { PcapWriter, type PcapWriterOptions, type WriteTarget } from "./pcap-writer.js";
import { formatTimestamp, precisionOf } from "./timestamp.js";
import type { CaptureFormat, InterfaceInfo, Precision, SectionInfo } from "./types.js";
import type { ReadWarnings } from "./warnings.js";

/** Options for convertCapture. */
export interface ConvertOptions extends CaptureDecoderOptions {
  /** Output timestamp precision; by default the input's ("nano" for pcapng finer than microseconds). */
  precision?: Precision;
  /** Bytes per read from a path or descriptor (default 128 KiB). */
  chunkSize?: number;
}

/** What a conversion wrote. */
export interface ConvertResult {
  inputFormat: CaptureFormat | null;
  linkType: number;
  precision: Precision;
  packets: number;
  /** Size of the output file. */
  size: number;
  /**
   * A format problem in the input (or a packet time classic pcap cannot hold): everything before it was
   * converted and the output is a valid, complete capture of those packets (a salvage), but not all of the
   * input is in it.
   */
  error: PcapFormatError | null;
  /** Input packets libpcap reads on from with a warning (cut to the snaplen, …), per warning. */
  warnings: ReadWarnings;
}

// How a classic record's fraction field changes between precisions: libpcap's arithmetic, on the raw value.
const SAME_UNIT = 0;
const MICRO_TO_NANO = 1;
const NANO_TO_MICRO = 2;

// Decoded packets into a PcapWriter, each header field as tcpdump's pcap_dump writes it. Records already in
// the output's encoding are copied as whole runs.
class ConvertSink implements DecoderSink {
  writer: PcapWriter | null = null;
  private first: InterfaceInfo | null = null;
  private inputSection: SectionInfo | null = null;
  private raw = false;
  private inputLittleEndian = true;
  private unitChange = SAME_UNIT;
  private runBuffer: Uint8Array | null = null;
  private runStart = 0;
  private runEnd = 0;
  private runPackets = 0;
  private maxSnaplen = 0;

  constructor(
    private readonly open: (options: PcapWriterOptions) => PcapWriter,
    private readonly precision: Precision | undefined,
  ) {}

  get hasInterface(): boolean {
    return this.first !== null;
  }

  section(info: SectionInfo): void {
    this.inputSection ??= info;
  }

  interface(info: InterfaceInfo): void {
    const first = this.first;
    if (first === null) {
      this.first = info;
      this.maxSnaplen = classicSnaplen(info);
      return;
    }
    if (info.linkType !== first.linkType) {
      throw new PcapFormatError(
        "unsupported-conversion",
        info.offset,
        `interfaces have link types ${first.linkType} and ${info.linkType}; classic pcap holds one`,
      );
    }
    const snaplen = classicSnaplen(info);
    if (snaplen > this.maxSnaplen) {
      this.maxSnaplen = snaplen;
      this.writer?.setSnaplen(snaplen);
    }
  }

  packet(
    buf: Uint8Array,
    dataOffset: number,
    capturedLength: number,
    originalLength: number,
    seconds: number,
    nanoseconds: number,
    _interfaceId: number,
    recordOffset: number,
    inputOffset: number,
  ): void {
    const writer = this.writer ?? this.start();
    if (recordOffset >= 0 && this.raw) {
      if (buf === this.runBuffer && recordOffset === this.runEnd) {
        this.runEnd = dataOffset + capturedLength;
        this.runPackets++;
        return;
      }
      this.flushRun();
      this.runBuffer = buf;
      this.runStart = recordOffset;
      this.runEnd = dataOffset + capturedLength;
      this.runPackets = 1;
      return;
    }
    this.flushRun();
    const end = dataOffset + capturedLength;
    if (recordOffset >= 0) {
      // A classic record in another byte order or precision: its time fields as read, scaled as libpcap does
      // (a signed 32-bit fraction, divided towards zero or multiplied, then cut back to 32 bits).
      const le = this.inputLittleEndian;
      let fraction = u32(buf, recordOffset + 4, le);
      if (this.unitChange === NANO_TO_MICRO) fraction = Math.trunc((fraction | 0) / 1000) >>> 0;
      else if (this.unitChange === MICRO_TO_NANO)
        fraction = Number(BigInt.asUintN(32, BigInt((fraction | 0) * 1000)));
      writer.writeRawSlice(u32(buf, recordOffset, le), fraction, originalLength, buf, dataOffset, end);
      return;
    }
    if (!(seconds >= 0 && seconds <= 0xffffffff)) {
      throw new PcapFormatError(
        "timestamp-out-of-range",
        inputOffset,
        `packet time ${formatTimestamp(seconds, nanoseconds)} is outside what a classic pcap record holds (1970 to 2106)`,
      );
    }
    writer.writeSlice(seconds, nanoseconds, originalLength, buf, dataOffset, end);
  }

  /** Hands a pending run of raw records to the writer; call before the chunk they lie in is reused. */
  flushRun(): void {
    if (this.runBuffer === null) return;
    this.writer!.writeEncoded(this.runBuffer.subarray(this.runStart, this.runEnd), this.runPackets);
    this.runBuffer = null;
  }

  /** Opens the writer once the first interface is known (or at the end, for a capture with no packets). */
  start(): PcapWriter {
    const first = this.first;
    if (first === null) {
      throw new PcapFormatError("unsupported-conversion", 0, "the input describes no interface to convert");
    }
    const inputPrecision = precisionOf(first.resolution);
    const precision = this.precision ?? inputPrecision;
    const section = this.inputSection!;
    const endianness = hostIsLittleEndian ? "little" : "big";
    // pcap_dump_open writes thiszone and sigfigs as 0 and the link type with the input's upper bits.
    this.writer = this.open({
      linkType: writtenLinkType(first.linkType),
      linkTypeExtension: first.linkTypeExtension,
      snaplen: this.maxSnaplen,
      precision,
      endianness,
    });
    this.inputLittleEndian = section.endianness === "little";
    this.unitChange =
      precision === inputPrecision ? SAME_UNIT : precision === "nano" ? MICRO_TO_NANO : NANO_TO_MICRO;
    this.raw = section.format === "pcap" && section.endianness === endianness && precision === inputPrecision;
    return this.writer;
  }
}

/**
 * The snaplen libpcap reads an interface with, and so the one `tcpdump -w` writes: 0 ("no limit") and values
 * above 2^31-1 become the link type's maximum (262144 for most); every other value is kept as it is.
 */
export function classicSnaplen(info: InterfaceInfo): number {
  return effectiveSnaplen(info.linkType, info.snaplen);
}

/**
 * Converts pcap or pcapng into classic pcap in the host's byte order, byte for byte as `tcpdump -r IN -w OUT`
 * does (in the input's precision unless told otherwise; see the README for the few differences). A path
 * target is written under a hidden temporary name and renamed when done, so OUT never exists half-written;
 * a damaged input is salvaged up to the problem, reported in `error`. Refuses (and writes nothing) when the
 * input has several link types.
 */
export async function convertCapture(
  source: ByteSource,
  target: WriteTarget,
  options: ConvertOptions = {},
): Promise<ConvertResult> {
  const temporary = typeof target === "string" ? temporaryPathFor(target) : null;
  const sink = new ConvertSink(
    (writerOptions) => PcapWriter.create(temporary ?? target, writerOptions),
    options.precision,
  );
  const decoder = new CaptureDecoder(sink, options);
  let error: PcapFormatError | null = null;
  try {
    try {
      const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
      for await (const chunk of readChunks(source, { chunkSize, reuseBuffer: true })) {
        try {
          decoder.push(chunk);
        } finally {
          sink.flushRun();
        }
      }
      decoder.end();
    } catch (caught) {
      if (!PcapFormatError.isInstance(caught) || caught.reason === "unsupported-conversion") throw caught;
      error = caught;
    }
    if (sink.writer === null && !sink.hasInterface && error !== null) throw error;
    const writer = sink.writer ?? sink.start();
    await writer.close();
    if (temporary !== null) renameSync(temporary, target as string);
    return {
      inputFormat: decoder.format,
      linkType: writer.linkType,
      precision: writer.precision,
      packets: writer.packets,
      size: writer.size,
      error,
      warnings: { ...decoder.warnings },
    };
  } catch (failure) {
    sink.writer?.abort();
    if (temporary !== null) {
      try {
        unlinkSync(temporary);
      } catch {
        // Never created: nothing to remove.
      }
    }
    throw failure;
  }
}

/** A hidden, unique temporary name beside `path`, for writing a file that is renamed into place when whole. */
export function temporaryPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomHex(4)}.tmp`);
}

/**
 * `bytes` random bytes as hex, from the global Web Crypto: node:crypto would be loaded with this module,
 * 5 ms of a one-shot tool's start-up, for a temporary name only some callers ever make.
 */
function randomHex(bytes: number): string {
  const random = globalThis.crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("");
}
