import { i64, pad4, u16, u32 } from "./bytes.js";
import { effectiveSnaplen, PCAPNG_BLOCK, PCAPNG_BYTE_ORDER_MAGIC } from "./constants.js";
import type {
  DecoderLimits,
  DecoderSink,
  FormatDecoder,
  PlainRecords,
  WarningReporter,
} from "./decoder-sink.js";
import { PcapFormatError } from "./errors.js";
import { resolutionFromByte, type TimestampResolution, TimestampScale } from "./timestamp.js";
import type { InterfaceInfo, SectionInfo } from "./types.js";

const BLOCK_HEADER = 12; // type, length, and the first body word (the SHB byte-order magic)

const MIN_LENGTH: Record<number, number> = {
  [PCAPNG_BLOCK.sectionHeader]: 28,
  [PCAPNG_BLOCK.interfaceDescription]: 20,
  [PCAPNG_BLOCK.enhancedPacket]: 32,
  [PCAPNG_BLOCK.obsoletePacket]: 32,
  [PCAPNG_BLOCK.simplePacket]: 16,
};

const OPT_ENDOFOPT = 0;
const IF_NAME = 2;
const IF_TSRESOL = 9;
const IF_FCSLEN = 13;
const IF_TSOFFSET = 14;

// libpcap refuses a first Section Header Block longer than this (BT_SHB_INSANE_MAX).
const MAX_FIRST_SECTION_HEADER = 1 << 20;

interface SectionInterface {
  id: number;
  /** The snaplen libpcap checks packets against: the IDB's, or the link type's maximum for 0. */
  snapshot: number;
  scale: TimestampScale;
}

/**
 * pcapng: sections in either byte order, interfaces, Enhanced/Simple/obsolete Packet Blocks, checked as
 * libpcap checks them: strictly where it refuses a file, leniently where it reads on.
 */
export class PcapngDecoder implements FormatDecoder {
  private le = true;
  private seenSection = false;
  private interfaces: SectionInterface[] = [];
  private nextInterfaceId = 0;
  // Skipping a block we do not parse streams through its body without buffering it.
  private skipping = false;
  private skipRemaining = 0;
  private skipLength = 0;
  private skipStart = 0;
  private blockType = 0;
  private blockLength = 0;
  private readonly textDecoder = new TextDecoder();
  /** What the sink's `records` may take in this section as its interfaces stand; null once stale. */
  private layout: PlainRecords | null = null;

  constructor(
    private readonly sink: DecoderSink,
    private readonly limits: DecoderLimits,
    private readonly warn: WarningReporter,
  ) {}

  needed(buf: Uint8Array, off: number, end: number, base: number): number {
    if (this.skipping) return this.skipRemaining > 0 ? 1 : 4;
    if (end - off < BLOCK_HEADER) return BLOCK_HEADER;
    this.readBlockHeader(buf, off, base);
    return this.isParsed(this.blockType) ? this.blockLength : BLOCK_HEADER;
  }

  run(buf: Uint8Array, off: number, end: number, base: number): number {
    // A sink that takes plain blocks in bulk is offered them at every boundary but the one after its own
    // stop: the block there is not a plain packet (or not whole), and is read below.
    const bulk = this.sink.records !== undefined;
    let offer = bulk;
    for (;;) {
      if (this.skipping) {
        const take = Math.min(this.skipRemaining, end - off);
        off += take;
        this.skipRemaining -= take;
        if (this.skipRemaining > 0 || end - off < 4) return off;
        const trailer = u32(buf, off, this.le);
        if (trailer !== this.skipLength) this.badTrailer(trailer, this.skipLength, base + off);
        off += 4;
        this.skipping = false;
      }
      if (offer && this.seenSection) {
        this.layout ??= this.plainRecords();
        const to = this.sink.records!(buf, off, end, this.layout);
        if (to !== off) {
          off = to;
          offer = false;
          continue;
        }
      }
      offer = bulk;
      if (end - off < BLOCK_HEADER) return off;
      this.readBlockHeader(buf, off, base);
      const type = this.blockType;
      const length = this.blockLength;
      if (!this.isParsed(type)) {
        this.skipping = true;
        this.skipLength = length;
        this.skipStart = base + off;
        this.skipRemaining = length - 12;
        off += 8;
        continue;
      }
      if (end - off < length) return off;
      const trailer = u32(buf, off + length - 4, this.le);
      if (trailer !== length) this.badTrailer(trailer, length, base + off + length - 4);
      this.parseBlock(type, buf, off, length, base);
      off += length;
    }
  }

  truncation(base: number, available: number): PcapFormatError | null {
    if (this.skipping) {
      return new PcapFormatError(
        "truncated-record",
        this.skipStart,
        `last block is incomplete: ${this.skipLength} bytes declared`,
      );
    }
    if (available === 0) return null;
    if (!this.seenSection) {
      return new PcapFormatError(
        "truncated-header",
        base,
        `pcapng section header is only ${available} bytes`,
      );
    }
    return new PcapFormatError(
      "truncated-record",
      base,
      `last block is incomplete: ${available} bytes present after the last complete block`,
    );
  }

  private plainRecords(): PlainRecords {
    return {
      format: "pcapng",
      littleEndian: this.le,
      maxBlockLength: this.limits.maxBlockLength,
      maxCapturedLength: this.limits.maxCaptureLength ?? 0xffffffff,
      interfaceSnaplens: this.interfaces.map((i) => i.snapshot),
    };
  }

  private isParsed(type: number): boolean {
    return (
      type === PCAPNG_BLOCK.enhancedPacket ||
      type === PCAPNG_BLOCK.sectionHeader ||
      type === PCAPNG_BLOCK.interfaceDescription ||
      type === PCAPNG_BLOCK.simplePacket ||
      type === PCAPNG_BLOCK.obsoletePacket
    );
  }

  // Reads and validates a block's type and total length; a new section may switch the byte order.
  private readBlockHeader(buf: Uint8Array, off: number, base: number): void {
    let type = u32(buf, off, this.le);
    if (type === PCAPNG_BLOCK.sectionHeader) {
      if (u32(buf, off + 8, true) === PCAPNG_BYTE_ORDER_MAGIC) this.le = true;
      else if (u32(buf, off + 8, false) === PCAPNG_BYTE_ORDER_MAGIC) this.le = false;
      else
        throw new PcapFormatError("bad-magic", base + off + 8, "pcapng byte-order magic is not 0x1A2B3C4D");
      type = PCAPNG_BLOCK.sectionHeader;
    } else if (!this.seenSection) {
      throw new PcapFormatError("bad-magic", base + off, "pcapng must begin with a Section Header Block");
    }
    const length = u32(buf, off + 4, this.le);
    const min = MIN_LENGTH[type] ?? 12;
    if (length < min || (length & 3) !== 0) {
      throw new PcapFormatError(
        "bad-block-length",
        base + off + 4,
        `block type 0x${type.toString(16)} has total length ${length} (minimum ${min}, multiple of 4)`,
      );
    }
    if (!this.seenSection && length > MAX_FIRST_SECTION_HEADER) {
      throw new PcapFormatError(
        "bad-block-length",
        base + off + 4,
        `the first Section Header Block is ${length} bytes, more than libpcap's ${MAX_FIRST_SECTION_HEADER}`,
      );
    }
    if (this.isParsed(type) && length > this.limits.maxBlockLength) {
      throw new PcapFormatError(
        "block-too-large",
        base + off + 4,
        `block type 0x${type.toString(16)} of ${length} bytes exceeds the ${this.limits.maxBlockLength}-byte limit`,
      );
    }
    this.blockType = type;
    this.blockLength = length;
  }

  private badTrailer(trailer: number, length: number, at: number): never {
    throw new PcapFormatError(
      "bad-block-trailer",
      at,
      `block trailer says ${trailer} bytes but the header said ${length}`,
    );
  }

  private parseBlock(type: number, buf: Uint8Array, off: number, length: number, base: number): void {
    switch (type) {
      case PCAPNG_BLOCK.enhancedPacket:
        this.packetBlock(buf, off, length, base, u32(buf, off + 8, this.le), 12);
        return;
      case PCAPNG_BLOCK.obsoletePacket:
        this.packetBlock(buf, off, length, base, u16(buf, off + 8, this.le), 12);
        return;
      case PCAPNG_BLOCK.simplePacket:
        this.simplePacket(buf, off, length, base);
        return;
      case PCAPNG_BLOCK.interfaceDescription:
        this.interfaceDescription(buf, off, length, base);
        return;
      default:
        this.sectionHeader(buf, off, base);
    }
  }

  private sectionHeader(buf: Uint8Array, off: number, base: number): void {
    const le = this.le;
    const versionMajor = u16(buf, off + 12, le);
    const versionMinor = u16(buf, off + 14, le);
    // libpcap reads 1.0 and 1.2 (the same format) in the first section, and any 1.x after it.
    if (versionMajor !== 1 || (!this.seenSection && versionMinor !== 0 && versionMinor !== 2)) {
      throw new PcapFormatError(
        "unsupported-version",
        base + off + 12,
        `pcapng version ${versionMajor}.${versionMinor} is not one libpcap reads (1.0 or 1.2)`,
      );
    }
    // Section options are not read, as libpcap does not read them: a broken one costs nothing.
    this.seenSection = true;
    this.interfaces = [];
    this.layout = null;
    const info: SectionInfo = {
      format: "pcapng",
      endianness: le ? "little" : "big",
      versionMajor,
      versionMinor,
      offset: base + off,
      timezoneOffset: 0,
      sigfigs: 0,
    };
    this.sink.section?.(info);
  }

  private interfaceDescription(buf: Uint8Array, off: number, length: number, base: number): void {
    const le = this.le;
    const linkType = u16(buf, off + 8, le);
    const snaplen = u32(buf, off + 12, le);
    let resolution: TimestampResolution = { base: 10, exponent: 6 };
    let timestampOffset = 0n;
    let fcsLength: number | null = null;
    let name: string | null = null;
    let sawResolution = false;
    let sawOffset = false;
    // libpcap refuses an interface whose time options it cannot use; the rest it ignores, and so do we.
    const refuse = (at: number, why: string): never => {
      throw new PcapFormatError("bad-option", base + at - 4, `Interface Description Block ${why}`);
    };
    this.walkOptions(buf, off + 16, off + length - 4, base, (code, at, len) => {
      if (code === IF_TSRESOL) {
        if (len !== 1) refuse(at, `has an if_tsresol option of ${len} bytes, not 1`);
        if (sawResolution) refuse(at, "has more than one if_tsresol option");
        resolution = resolutionFromByte(buf[at]!);
        if (resolution.exponent > (resolution.base === 2 ? 63 : 19)) {
          refuse(at, `if_tsresol ${resolution.base}^-${resolution.exponent} is finer than 64 bits can count`);
        }
        sawResolution = true;
      } else if (code === IF_TSOFFSET) {
        if (len !== 8) refuse(at, `has an if_tsoffset option of ${len} bytes, not 8`);
        if (sawOffset) refuse(at, "has more than one if_tsoffset option");
        timestampOffset = i64(buf, at, le);
        sawOffset = true;
      } else if (code === IF_FCSLEN && len >= 1) {
        fcsLength = buf[at]!;
      } else if (code === IF_NAME) {
        name = this.textDecoder.decode(buf.subarray(at, at + len)).replace(/\0+$/, "");
      } else if (code === OPT_ENDOFOPT && len !== 0) {
        refuse(at, `has an opt_endofopt option of ${len} bytes, not 0`);
      }
    });
    const id = this.nextInterfaceId++;
    this.layout = null;
    this.interfaces.push({
      id,
      snapshot: effectiveSnaplen(linkType, snaplen),
      scale: new TimestampScale(resolution, timestampOffset),
    });
    const info: InterfaceInfo = {
      id,
      linkType,
      linkTypeExtension: 0,
      snaplen,
      resolution,
      timestampOffset: Number(timestampOffset),
      fcsLength,
      name,
      offset: base + off,
    };
    this.sink.interface?.(info);
  }

  // Enhanced (32-bit interface id) and obsolete (16-bit id + drops) Packet Blocks share the rest. Their
  // options are not read, as libpcap does not read them.
  private packetBlock(
    buf: Uint8Array,
    off: number,
    length: number,
    base: number,
    interfaceIndex: number,
    tsAt: number,
  ): void {
    const le = this.le;
    const caplen = u32(buf, off + 20, le);
    const origlen = u32(buf, off + 24, le);
    this.checkMaximum(caplen, base + off + 20);
    if (28 + caplen + pad4(caplen) > length - 4) {
      throw new PcapFormatError(
        "bad-block-length",
        base + off + 4,
        `packet block of ${length} bytes cannot hold ${caplen} captured bytes`,
      );
    }
    const iface = this.interfaceAt(interfaceIndex, base + off + 8);
    if (caplen > iface.snapshot) {
      throw new PcapFormatError(
        "caplen-over-snaplen",
        base + off + 20,
        `packet captured length ${caplen} exceeds its interface's snaplen ${iface.snapshot}`,
      );
    }
    if (caplen > origlen) this.warn("caplen-over-origlen", base + off);
    const scale = iface.scale;
    scale.convert(u32(buf, off + tsAt, le), u32(buf, off + tsAt + 4, le));
    this.sink.packet(
      buf,
      off + 28,
      caplen,
      origlen,
      scale.seconds,
      scale.nanoseconds,
      iface.id,
      -1,
      base + off,
    );
  }

  // A Simple Packet Block holds min(original length, snaplen) bytes, as libpcap reads it; fewer is an error.
  private simplePacket(buf: Uint8Array, off: number, length: number, base: number): void {
    const iface = this.interfaceAt(0, base + off);
    const origlen = u32(buf, off + 8, this.le);
    const caplen = Math.min(origlen, iface.snapshot);
    this.checkMaximum(caplen, base + off + 8);
    if (caplen > length - 16) {
      throw new PcapFormatError(
        "bad-block-length",
        base + off + 4,
        `Simple Packet Block of ${length} bytes cannot hold the ${caplen} bytes its original length and snaplen call for`,
      );
    }
    this.warn("no-timestamp", base + off);
    this.sink.packet(buf, off + 12, caplen, origlen, 0, 0, iface.id, -1, base + off);
  }

  private checkMaximum(caplen: number, at: number): void {
    const max = this.limits.maxCaptureLength;
    if (max !== null && caplen > max) {
      throw new PcapFormatError("caplen-over-max", at, `packet captured length ${caplen} exceeds ${max}`);
    }
  }

  private interfaceAt(index: number, at: number): SectionInterface {
    const iface = this.interfaces[index];
    if (iface === undefined) {
      throw new PcapFormatError(
        "unknown-interface",
        at,
        `packet refers to interface ${index} but the section describes ${this.interfaces.length}`,
      );
    }
    return iface;
  }

  // Walks type-length-value options up to opt_endofopt (visited too) or the end; a value past the end is an
  // error.
  private walkOptions(
    buf: Uint8Array,
    start: number,
    end: number,
    base: number,
    visit: (code: number, at: number, length: number) => void,
  ): void {
    let at = start;
    while (end - at >= 4) {
      const code = u16(buf, at, this.le);
      const len = u16(buf, at + 2, this.le);
      if (at + 4 + len > end) {
        throw new PcapFormatError(
          "bad-option",
          base + at,
          `option ${code} of ${len} bytes runs past the end of its block`,
        );
      }
      visit(code, at + 4, len);
      if (code === OPT_ENDOFOPT) return;
      at += 4 + len + pad4(len);
    }
  }
}
