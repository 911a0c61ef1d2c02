import { renameSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import {
  type ByteSource,
  type InterfaceInfo,
  PcapFormatError,
  PcapWriter,
  type Precision,
  type ReadWarnings,
  type SectionInfo,
} from "@sluice/pcap-format";
import {
  CaptureDecoder,
  classicSnaplen,
  type DecoderSink,
  precisionOf,
  readChunks,
  temporaryPathFor,
} from "@sluice/pcap-format/low-level";
import { badOption } from "./errors.js";
import { FlowHasher, type FlowKeyKind } from "./flow-hasher.js";
import { Rendezvous } from "./rendezvous.js";

/** How to split: into `parts` numbered files, or one file per node name by rendezvous hashing. */
export interface SplitOptions {
  /** Output directory (must exist). */
  directory: string;
  /** File name stem: files are `<name>-<i>.pcap` or `<name>-<node>.pcap`. */
  name: string;
  /** Number of parts, numbered from 0 (exclusive with `nodes`). */
  parts?: number;
  /** Node names: each flow goes to the node rendezvous hashing picks, as the router's flow pool does. */
  nodes?: readonly string[];
  /** Flow key (default "5-tuple"). */
  key?: FlowKeyKind;
  /** Bytes per read (default 128 KiB). */
  chunkSize?: number;
}

/** One written part. */
export interface SplitPart {
  /** Part number (from 0) or node name. */
  part: number | string;
  path: string;
  packets: number;
  /** File size in bytes. */
  size: number;
}

/** What a split wrote. */
export interface SplitResult {
  inputFormat: "pcap" | "pcapng" | null;
  linkType: number | null;
  precision: Precision | null;
  packets: number;
  /** Parts that received packets, in part order; parts without packets are not written. */
  parts: SplitPart[];
  /**
   * A format problem in the input (or a packet time classic pcap cannot hold, at the input byte where its
   * block starts): every packet before it was split and the parts are complete captures of those packets,
   * but not all of the input is in them.
   */
  error: PcapFormatError | null;
  /** Input packets libpcap reads on from with a warning (cut to the snaplen, …), per warning. */
  warnings: ReadWarnings;
}

const MAX_PARTS = 1024;
const TOTAL_BUFFER = 16 << 20;

// Routes each decoded packet to its part's writer: one flow hash and one pick per packet, one copy per run of
// consecutive records of a part.
class SplitSink implements DecoderSink {
  readonly writers: (PcapWriter | null)[];
  readonly temporaries: (string | null)[];
  packets = 0;
  private firstSection: SectionInfo | null = null;
  private first: InterfaceInfo | null = null;
  private snaplen = 0;
  private linkType = 0;
  private readonly hasher: FlowHasher;
  private readonly bufferSize: number;
  private runPart = -1;
  private runBuffer: Uint8Array | null = null;
  private runStart = 0;
  private runEnd = 0;
  private runPackets = 0;

  constructor(
    count: number,
    private readonly choose: (flowHash: number) => number,
    private readonly pathOf: (part: number) => string,
    key: FlowKeyKind,
  ) {
    this.writers = new Array<PcapWriter | null>(count).fill(null);
    this.temporaries = new Array<string | null>(count).fill(null);
    this.hasher = new FlowHasher({ key });
    this.bufferSize = Math.min(1 << 20, Math.max(64 << 10, Math.floor(TOTAL_BUFFER / count)));
  }

  get linkTypeSeen(): number | null {
    return this.first === null ? null : this.linkType;
  }

  get precision(): Precision | null {
    return this.first === null ? null : precisionOf(this.first.resolution);
  }

  section(info: SectionInfo): void {
    this.firstSection ??= info;
  }

  interface(info: InterfaceInfo): void {
    const first = this.first;
    if (first === null) {
      this.first = info;
      this.linkType = info.linkType;
      this.snaplen = classicSnaplen(info);
      return;
    }
    if (info.linkType !== first.linkType) {
      throw new PcapFormatError(
        "unsupported-conversion",
        info.offset,
        `interfaces have link types ${first.linkType} and ${info.linkType}; split writes classic pcap, which holds one`,
      );
    }
    const snaplen = classicSnaplen(info);
    if (snaplen > this.snaplen) {
      this.snaplen = snaplen;
      for (const writer of this.writers) writer?.setSnaplen(snaplen);
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
    const end = dataOffset + capturedLength;
    const part = this.choose(this.hasher.hash(buf, this.linkType, dataOffset, end));
    // Classic pcap records are already in the parts' encoding: consecutive records of one part are copied as
    // one run (flows come in bursts), which costs one copy per run instead of one per packet.
    if (recordOffset >= 0) {
      this.packets++;
      if (part === this.runPart && buf === this.runBuffer && recordOffset === this.runEnd) {
        this.runEnd = end;
        this.runPackets++;
        return;
      }
      this.flushRun();
      this.runPart = part;
      this.runBuffer = buf;
      this.runStart = recordOffset;
      this.runEnd = end;
      this.runPackets = 1;
      return;
    }
    // Checked before a part is opened for it, so a time no part can hold never leaves an empty part behind.
    if (!(seconds >= 0 && seconds <= 0xffffffff)) {
      throw new PcapFormatError(
        "timestamp-out-of-range",
        inputOffset,
        `packet time ${seconds}s is outside what a classic pcap record holds (1970 to 2106)`,
      );
    }
    this.flushRun();
    this.packets++;
    const writer = this.writers[part] ?? this.open(part);
    writer.writeSlice(seconds, nanoseconds, originalLength, buf, dataOffset, end);
  }

  /** Hands the pending run to its part's writer; call before the chunk it lies in is reused. */
  flushRun(): void {
    const buf = this.runBuffer;
    if (buf === null) return;
    const part = this.runPart;
    const writer = this.writers[part] ?? this.open(part);
    writer.writeEncoded(buf.subarray(this.runStart, this.runEnd), this.runPackets);
    this.runBuffer = null;
    this.runPart = -1;
  }

  private open(part: number): PcapWriter {
    const section = this.firstSection!;
    const first = this.first!;
    const temporary = temporaryPathFor(this.pathOf(part));
    const writer = PcapWriter.create(temporary, {
      linkType: first.linkType,
      snaplen: this.snaplen,
      precision: precisionOf(first.resolution),
      // Classic input keeps its byte order so every record header is the input's, byte for byte.
      ...(section.format === "pcap" && { endianness: section.endianness }),
      linkTypeExtension: first.linkTypeExtension,
      timezoneOffset: section.timezoneOffset,
      sigfigs: section.sigfigs,
      bufferSize: this.bufferSize,
    });
    this.writers[part] = writer;
    this.temporaries[part] = temporary;
    return writer;
  }
}

/**
 * The stem split parts are named after: the file name without its capture extension (`.pcap`, `.pcapng`,
 * `.cap`, `.dmp`), or "capture". The router's flow parts and `sluice-pcap split --nodes` both use it, so an
 * offline split names its parts as the router does.
 */
export function captureStem(fileName: string): string {
  return fileName.replace(/\.(pcapng|pcap|cap|dmp)$/i, "") || "capture";
}

/** Checks split options; throws DecodeError "bad-option" naming the bad option. */
function partsOf(options: SplitOptions): {
  count: number;
  labels: (number | string)[];
  choose: (h: number) => number;
} {
  const { parts, nodes } = options;
  if ((parts === undefined) === (nodes === undefined)) {
    throw badOption("parts", "give either parts or nodes");
  }
  if (nodes !== undefined) {
    const rendezvous = new Rendezvous(nodes);
    for (const node of nodes) {
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(node)) {
        throw badOption(
          "nodes",
          `node name "${node}" cannot be part of a file name (letters, digits, . _ - only)`,
        );
      }
    }
    return { count: nodes.length, labels: [...nodes], choose: (h) => rendezvous.pick(h) };
  }
  const count = parts!;
  if (!Number.isInteger(count) || count < 1 || count > MAX_PARTS) {
    throw badOption("parts", `parts must be an integer from 1 to ${MAX_PARTS}, not ${String(parts)}`);
  }
  return { count, labels: Array.from({ length: count }, (_, i) => i), choose: (h) => h % count };
}

/**
 * Splits a pcap or pcapng capture by flow into classic pcap files, PcapSplitter-style: both directions of
 * a connection land in the same part, and every record is copied unchanged (timestamps, lengths, bytes) in
 * the input's precision and, for classic pcap, its byte order. Parts are written under temporary names and
 * renamed once complete. Refuses inputs with several link types.
 */
export async function splitCapture(source: ByteSource, options: SplitOptions): Promise<SplitResult> {
  const { count, labels, choose } = partsOf(options);
  const pathOf = (part: number): string => join(options.directory, `${options.name}-${labels[part]}.pcap`);
  const sink = new SplitSink(count, choose, pathOf, options.key ?? "5-tuple");
  const decoder = new CaptureDecoder(sink);
  let error: PcapFormatError | null = null;
  try {
    try {
      for await (const chunk of readChunks(source, {
        chunkSize: options.chunkSize ?? 128 * 1024,
        reuseBuffer: true,
      })) {
        try {
          decoder.push(chunk);
        } finally {
          sink.flushRun();
        }
      }
      decoder.end();
    } catch (caught) {
      if (!PcapFormatError.isInstance(caught) || caught.reason === "unsupported-conversion") throw caught;
      if (decoder.format === null) throw caught;
      error = caught;
    }
    const parts: SplitPart[] = [];
    for (let part = 0; part < count; part++) {
      const writer = sink.writers[part];
      if (!writer) continue;
      if (writer.packets === 0) {
        // Opened for a packet that then could not be written: the part stays unwritten, as documented.
        writer.abort();
        unlinkSync(sink.temporaries[part]!);
        sink.temporaries[part] = null;
        continue;
      }
      await writer.close();
      renameSync(sink.temporaries[part]!, pathOf(part));
      sink.temporaries[part] = null;
      parts.push({ part: labels[part]!, path: pathOf(part), packets: writer.packets, size: writer.size });
    }
    return {
      inputFormat: decoder.format,
      linkType: sink.linkTypeSeen,
      precision: sink.precision,
      packets: sink.packets,
      parts,
      error,
      warnings: { ...decoder.warnings },
    };
  } catch (failure) {
    for (let part = 0; part < count; part++) {
      sink.writers[part]?.abort();
      const temporary = sink.temporaries[part];
      if (temporary) {
        try {
          unlinkSync(temporary);
        } catch {
          // Never created or already gone.
        }
      }
    }
    throw failure;
  }
}
