import { randomBytes } from "node:crypto";
import { renameSync, unlinkSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { type ByteSource, DEFAULT_CHUNK_SIZE, readChunks } from "./byte-source.js";
import { hostIsLittleEndian } from "./bytes.js";
import { CaptureDecoder, type CaptureDecoderOptions } from "./capture-decoder.js";
import { MAX_CAPTURE_LENGTH } from "./constants.js";
import type { DecoderSink } from "./decoder-sink.js";
import { PcapFormatError } from "./errors.js";
import { PcapWriter, type PcapWriterOptions, type WriteTarget } from "./pcap-writer.js";
import { precisionOf } from "./timestamp.js";
import type { CaptureFormat, InterfaceInfo, Precision, SectionInfo } from "./types.js";

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
   * A format problem in the input: everything before it was converted and the output is a valid,
   * complete capture of those packets (a salvage), but the input was not whole.
   */
  error: PcapFormatError | null;
}

// Decoded packets into a PcapWriter. Records already in the output's encoding are copied as whole runs.
class ConvertSink implements DecoderSink {
  writer: PcapWriter | null = null;
  private first: InterfaceInfo | null = null;
  private inputSection: SectionInfo | null = null;
  private raw = false;
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
  ): void {
    const writer = this.writer ?? this.start();
    if (this.raw) {
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
    writer.writeSlice(seconds, nanoseconds, originalLength, buf, dataOffset, dataOffset + capturedLength);
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
    this.writer = this.open({
      linkType: first.linkType,
      snaplen: this.maxSnaplen,
      precision,
      endianness,
      fcsLength: first.fcsLength,
      timezoneOffset: section.timezoneOffset,
      sigfigs: section.sigfigs,
    });
    this.raw = section.format === "pcap" && section.endianness === endianness && precision === inputPrecision;
    return this.writer;
  }
}

/** The snaplen a classic pcap header gets for an interface: pcapng's 0 ("no limit") and oversize become 262144. */
export function classicSnaplen(info: InterfaceInfo): number {
  return info.snaplen === 0 || info.snaplen > MAX_CAPTURE_LENGTH ? MAX_CAPTURE_LENGTH : info.snaplen;
}

/**
 * Converts pcap or pcapng into classic pcap in the host's byte order, as `tcpdump -r IN -w OUT` does.
 * A path target is written under a hidden temporary name and renamed when complete, so OUT never exists
 * half-written. Refuses (and writes nothing) when the input has several link types.
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
  return join(dirname(path), `.${basename(path)}.${randomBytes(4).toString("hex")}.tmp`);
}
