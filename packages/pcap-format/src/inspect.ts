import { type ByteSource, DEFAULT_CHUNK_SIZE, readChunks } from "./byte-source.js";
import { CaptureDecoder, type CaptureDecoderOptions } from "./capture-decoder.js";
import type { DecoderSink } from "./decoder-sink.js";
import { PcapFormatError } from "./errors.js";
import { precisionOf, type Timestamp } from "./timestamp.js";
import type { CaptureFormat, Endianness, InterfaceInfo, Precision, SectionInfo } from "./types.js";
import type { ReadWarnings } from "./warnings.js";

/** Options for verify and inspect: decoder limits and read chunk size. */
export type InspectOptions = CaptureDecoderOptions & { chunkSize?: number };

/** Whether a capture is complete and valid, and where it stops being so. */
export interface VerifyResult {
  /** True when every byte belongs to a valid header, record or block and nothing is cut short. */
  complete: boolean;
  /** The first problem, or null. */
  error: PcapFormatError | null;
  /** Packets before the first problem. */
  packets: number;
  /** Bytes that form complete headers, records and blocks: cutting the file here salvages it. */
  validBytes: number;
  /** Bytes read. */
  size: number;
  /**
   * Packets read on from as libpcap reads on (for example cut to the snaplen), per warning: the file is
   * still complete, but these records say something their bytes do not.
   */
  warnings: ReadWarnings;
}

/** What `sluice-pcap info` reports about a capture. */
export interface CaptureSummary extends VerifyResult {
  format: CaptureFormat | null;
  /** Byte order of the first section. */
  endianness: Endianness | null;
  /** "nano" when any interface records finer than microseconds. */
  precision: Precision | null;
  /** Distinct link types in order of appearance. */
  linkTypes: number[];
  /** Largest snapshot length of any interface (0 means unlimited in pcapng). */
  snaplen: number | null;
  /** Sum of captured lengths. */
  bytes: number;
  /** Sum of original (on-the-wire) lengths: capinfos' "data size". */
  originalBytes: number;
  /**
   * Earliest and latest packet time, null without packets and, as capinfos reports, when any packet has no
   * timestamp (a pcapng Simple Packet Block).
   */
  firstTime: Timestamp | null;
  lastTime: Timestamp | null;
  sections: SectionInfo[];
  interfaces: InterfaceInfo[];
}

class SummarySink implements DecoderSink {
  packets = 0;
  bytes = 0;
  originalBytes = 0;
  hasTime = false;
  firstSeconds = 0;
  firstNanos = 0;
  lastSeconds = 0;
  lastNanos = 0;
  readonly sections: SectionInfo[] = [];
  readonly interfaces: InterfaceInfo[] = [];

  constructor(private readonly withTimes: boolean) {}

  packet(
    _buf: Uint8Array,
    _dataOffset: number,
    capturedLength: number,
    originalLength: number,
    seconds: number,
    nanoseconds: number,
  ): void {
    this.packets++;
    this.bytes += capturedLength;
    this.originalBytes += originalLength;
    if (!this.withTimes) return;
    if (!this.hasTime) {
      this.hasTime = true;
      this.firstSeconds = this.lastSeconds = seconds;
      this.firstNanos = this.lastNanos = nanoseconds;
      return;
    }
    if (seconds < this.firstSeconds || (seconds === this.firstSeconds && nanoseconds < this.firstNanos)) {
      this.firstSeconds = seconds;
      this.firstNanos = nanoseconds;
    }
    if (seconds > this.lastSeconds || (seconds === this.lastSeconds && nanoseconds > this.lastNanos)) {
      this.lastSeconds = seconds;
      this.lastNanos = nanoseconds;
    }
  }

  section(info: SectionInfo): void {
    this.sections.push(info);
  }

  interface(info: InterfaceInfo): void {
    this.interfaces.push(info);
  }
}

async function decodeAll(
  source: ByteSource,
  sink: SummarySink,
  options: InspectOptions,
): Promise<{ decoder: CaptureDecoder; error: PcapFormatError | null }> {
  const decoder = new CaptureDecoder(sink, options);
  try {
    const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    for await (const chunk of readChunks(source, { chunkSize, reuseBuffer: true })) decoder.push(chunk);
    decoder.end();
    return { decoder, error: null };
  } catch (error) {
    if (PcapFormatError.isInstance(error)) return { decoder, error };
    throw error;
  }
}

/**
 * Reads a whole capture and reports whether it is complete and valid, and if not the byte offset and
 * reason of the first problem. Format problems are reported, not thrown; I/O errors are thrown.
 */
export async function verifyCapture(source: ByteSource, options: InspectOptions = {}): Promise<VerifyResult> {
  const sink = new SummarySink(false);
  const { decoder, error } = await decodeAll(source, sink, options);
  return verifyResult(decoder, sink, error);
}

function verifyResult(
  decoder: CaptureDecoder,
  sink: SummarySink,
  error: PcapFormatError | null,
): VerifyResult {
  return {
    complete: error === null,
    error,
    packets: sink.packets,
    validBytes: decoder.offset,
    size: decoder.bytesReceived,
    warnings: { ...decoder.warnings },
  };
}

/** Verifies a capture and summarises it: format, link types, counts and time span. */
export async function inspectCapture(
  source: ByteSource,
  options: InspectOptions = {},
): Promise<CaptureSummary> {
  const sink = new SummarySink(true);
  const { decoder, error } = await decodeAll(source, sink, options);
  const linkTypes = [...new Set(sink.interfaces.map((i) => i.linkType))];
  const timed = sink.hasTime && decoder.warnings["no-timestamp"] === 0;
  const first = sink.sections[0];
  const precision: Precision | null =
    sink.interfaces.length === 0
      ? null
      : sink.interfaces.some((i) => precisionOf(i.resolution) === "nano")
        ? "nano"
        : "micro";
  return {
    ...verifyResult(decoder, sink, error),
    format: decoder.format,
    endianness: first ? first.endianness : null,
    precision,
    linkTypes,
    snaplen:
      sink.interfaces.length === 0 ? null : sink.interfaces.reduce((max, i) => Math.max(max, i.snaplen), 0),
    bytes: sink.bytes,
    originalBytes: sink.originalBytes,
    firstTime: timed ? { seconds: sink.firstSeconds, nanoseconds: sink.firstNanos } : null,
    lastTime: timed ? { seconds: sink.lastSeconds, nanoseconds: sink.lastNanos } : null,
    sections: sink.sections,
    interfaces: sink.interfaces,
  };
}
