import { type ByteSource, type ChunkOptions, readChunks } from "./byte-source.js";
import { CaptureDecoder, type CaptureDecoderOptions } from "./capture-decoder.js";
import type { DecoderSink } from "./decoder-sink.js";
import type { CaptureFormat, InterfaceInfo, PacketRecord, SectionInfo } from "./types.js";
import type { ReadWarnings } from "./warnings.js";

/** Options for reading packets: chunking and decoder limits. */
export type ReadOptions = CaptureDecoderOptions & Omit<ChunkOptions, "reuseBuffer" | "nextBuffer">;

// Turns sink calls into PacketRecord objects whose data are views of the decoded buffers.
class RecordCollector implements DecoderSink {
  readonly sections: SectionInfo[] = [];
  readonly interfaces: InterfaceInfo[] = [];
  batch: PacketRecord[] = [];

  packet(
    buf: Uint8Array,
    dataOffset: number,
    capturedLength: number,
    originalLength: number,
    seconds: number,
    nanoseconds: number,
    interfaceId: number,
  ): void {
    this.batch.push({
      seconds,
      nanoseconds,
      originalLength,
      data: buf.subarray(dataOffset, dataOffset + capturedLength),
      interfaceId,
      linkType: this.interfaces[interfaceId]!.linkType,
    });
  }

  section(info: SectionInfo): void {
    this.sections.push(info);
  }

  interface(info: InterfaceInfo): void {
    this.interfaces.push(info);
  }
}

/**
 * Packets of a capture read as a stream. Iterate it once; `sections` and `interfaces` fill in as the
 * headers are read. A format problem is thrown as a PcapFormatError after every packet before it.
 */
export class PacketStream implements AsyncIterable<PacketRecord> {
  private readonly collector = new RecordCollector();
  private readonly decoder: CaptureDecoder;
  private started = false;

  constructor(
    private readonly source: ByteSource,
    private readonly options: ReadOptions = {},
  ) {
    this.decoder = new CaptureDecoder(this.collector, options);
  }

  /** Section headers seen so far (one for classic pcap). */
  get sections(): readonly SectionInfo[] {
    return this.collector.sections;
  }

  /** Interfaces seen so far, indexed by `PacketRecord.interfaceId`. */
  get interfaces(): readonly InterfaceInfo[] {
    return this.collector.interfaces;
  }

  /** The container format, once known. */
  get format(): CaptureFormat | null {
    return this.decoder.format;
  }

  /** Packets so far that libpcap reads on from with a warning (cut to the snaplen, …), per warning. */
  get warnings(): Readonly<ReadWarnings> {
    return this.decoder.warnings;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<PacketRecord> {
    if (this.started) throw new Error("a PacketStream can be iterated only once");
    this.started = true;
    const { collector, decoder } = this;
    for await (const chunk of readChunks(this.source, { ...this.options, reuseBuffer: false })) {
      let failure: unknown = null;
      try {
        decoder.push(chunk);
      } catch (error) {
        failure = error;
      }
      const batch = collector.batch;
      collector.batch = [];
      yield* batch;
      if (failure !== null) throw failure;
    }
    decoder.end();
  }
}

/** Reads the packets of a pcap or pcapng source as an async iterable, with bounded memory. */
export function readPackets(source: ByteSource, options: ReadOptions = {}): PacketStream {
  return new PacketStream(source, options);
}

/** A whole capture decoded from memory. */
export interface Capture {
  format: CaptureFormat;
  sections: SectionInfo[];
  interfaces: InterfaceInfo[];
  packets: PacketRecord[];
  /** Packets read on from with a warning, per warning. */
  warnings: ReadWarnings;
}

/**
 * Decodes a capture held in memory, synchronously; for small files. Packet data are views of `bytes`.
 * Throws PcapFormatError on the first problem, including a truncated end.
 */
export function readCaptureSync(bytes: Uint8Array, options: CaptureDecoderOptions = {}): Capture {
  const collector = new RecordCollector();
  const decoder = new CaptureDecoder(collector, options);
  decoder.push(bytes);
  decoder.end();
  return {
    format: decoder.format!,
    sections: collector.sections,
    interfaces: collector.interfaces,
    packets: collector.batch,
    warnings: { ...decoder.warnings },
  };
}
