import { u16, u32 } from "./bytes.js";
import {
  effectiveSnaplen,
  maxCaptureLengthFor,
  PCAP_FILE_HEADER_LENGTH,
  PCAP_MAGIC_KUZNETSOV,
  PCAP_MAGIC_MICRO,
  PCAP_MAGIC_NANO,
  PCAP_RECORD_HEADER_LENGTH,
} from "./constants.js";
import type {
  DecoderLimits,
  DecoderSink,
  FormatDecoder,
  PlainRecords,
  WarningReporter,
} from "./decoder-sink.js";
import { PcapFormatError } from "./errors.js";
import type { InterfaceInfo, SectionInfo } from "./types.js";

// Kuznetsov's patched libpcap adds an interface index, a protocol and a packet type to every record header.
const KUZNETSOV_RECORD_HEADER_LENGTH = 24;
const LINKTYPE_ETHERNET = 1;

// How a version stores the two lengths: 2.3 swapped them to match the BPF header, and 2.3 files exist both ways.
const LENGTHS_NORMAL = 0;
const LENGTHS_SWAPPED = 1;
const LENGTHS_SWAPPED_WHERE_CAPLEN_EXCEEDS_LEN = 2;

/** Classic pcap (libpcap savefile) in any of its magics, read record by record as libpcap reads it. */
export class PcapDecoder implements FormatDecoder {
  private headerDone = false;
  private le = true;
  private nano = false;
  private recordHeader = PCAP_RECORD_HEADER_LENGTH;
  private order = LENGTHS_NORMAL;
  private snapshot = 0;
  private maxCapture = 0;
  // The lengths of the record readLengths() last looked at, in libpcap's order.
  private caplen = 0;
  private origlen = 0;

  constructor(
    private readonly sink: DecoderSink,
    private readonly limits: DecoderLimits,
    private readonly warn: WarningReporter,
  ) {}

  needed(buf: Uint8Array, off: number, end: number, base: number): number {
    if (!this.headerDone) return PCAP_FILE_HEADER_LENGTH;
    if (end - off < this.recordHeader) return this.recordHeader;
    this.readLengths(buf, off);
    this.checkCaptureLength(this.caplen, base + off);
    return this.recordHeader + this.caplen;
  }

  run(buf: Uint8Array, off: number, end: number, base: number): number {
    if (!this.headerDone) {
      if (end - off < PCAP_FILE_HEADER_LENGTH) return off;
      this.readHeader(buf, off, base);
      off += PCAP_FILE_HEADER_LENGTH;
    }
    const le = this.le;
    const sink = this.sink;
    const fracLimit = this.nano ? 1_000_000_000 : 1_000_000;
    const fracToNanos = this.nano ? 1 : 1000;
    const plain = this.order === LENGTHS_NORMAL && this.recordHeader === PCAP_RECORD_HEADER_LENGTH;
    const headerLength = this.recordHeader;
    // Records at most this long, and no longer than their original length, need no second look.
    const quiet = Math.min(this.snapshot, this.maxCapture);
    // A sink that takes plain records in bulk is offered them at every boundary but the one after its
    // own stop: the record there is not plain (or not whole), and is read below.
    const bulk = plain && sink.records !== undefined;
    const layout: PlainRecords | null = bulk
      ? { format: "pcap", littleEndian: le, maxCapturedLength: quiet, fractionLimit: fracLimit }
      : null;
    let offer = bulk;
    while (end - off >= headerLength) {
      if (offer) {
        const to = sink.records!(buf, off, end, layout!);
        if (to !== off) {
          off = to;
          offer = false;
          continue;
        }
      }
      offer = bulk;
      let caplen: number;
      let origlen: number;
      if (plain) {
        caplen = u32(buf, off + 8, le);
        origlen = u32(buf, off + 12, le);
      } else {
        this.readLengths(buf, off);
        caplen = this.caplen;
        origlen = this.origlen;
      }
      if (caplen > quiet) this.checkCaptureLength(caplen, base + off);
      const next = off + headerLength + caplen;
      if (next > end) break;
      let captured = caplen;
      let recordOffset = plain ? off : -1;
      if (caplen > quiet || caplen > origlen) {
        if (caplen > this.snapshot) {
          // libpcap reads the first snaplen bytes, skips the rest and reads on.
          captured = this.snapshot;
          recordOffset = -1;
          this.warn("caplen-over-snaplen", base + off);
        }
        if (captured > origlen) this.warn("caplen-over-origlen", base + off);
      }
      let seconds = u32(buf, off, le);
      let frac = u32(buf, off + 4, le);
      if (frac >= fracLimit) {
        // Out-of-range fractions exist in the wild; carry them into seconds rather than report 1.5e9 ns.
        this.warn("fraction-over-second", base + off);
        seconds += Math.floor(frac / fracLimit);
        frac %= fracLimit;
      }
      sink.packet(
        buf,
        off + headerLength,
        captured,
        origlen,
        seconds,
        frac * fracToNanos,
        0,
        recordOffset,
        base + off,
      );
      off = next;
    }
    return off;
  }

  truncation(base: number, available: number): PcapFormatError | null {
    if (available === 0) return null;
    if (!this.headerDone) {
      return new PcapFormatError(
        "truncated-header",
        base,
        `pcap file header is ${available} of ${PCAP_FILE_HEADER_LENGTH} bytes`,
      );
    }
    return new PcapFormatError(
      "truncated-record",
      base,
      `last record is incomplete: ${available} bytes present after the last complete record`,
    );
  }

  // Versions before 2.3 (and DG/UX's 543.0) wrote the original length first; some 2.3 files did too.
  private readLengths(buf: Uint8Array, off: number): void {
    const first = u32(buf, off + 8, this.le);
    const second = u32(buf, off + 12, this.le);
    const swap =
      this.order === LENGTHS_SWAPPED ||
      (this.order === LENGTHS_SWAPPED_WHERE_CAPLEN_EXCEEDS_LEN && first > second);
    this.caplen = swap ? second : first;
    this.origlen = swap ? first : second;
  }

  // Only a length beyond any real capture ends the read; a record over the snaplen is cut and read on.
  private checkCaptureLength(caplen: number, at: number): void {
    if (caplen <= this.maxCapture) return;
    const over = caplen > this.snapshot ? ` (and the file's snaplen ${this.snapshot})` : "";
    throw new PcapFormatError(
      "caplen-over-max",
      at,
      `record captured length ${caplen} exceeds ${this.maxCapture}${over}`,
    );
  }

  private readHeader(buf: Uint8Array, off: number, base: number): void {
    const magicLe = u32(buf, off, true);
    const le =
      magicLe === PCAP_MAGIC_MICRO || magicLe === PCAP_MAGIC_NANO || magicLe === PCAP_MAGIC_KUZNETSOV;
    const magic = u32(buf, off, le);
    if (magic !== PCAP_MAGIC_MICRO && magic !== PCAP_MAGIC_NANO && magic !== PCAP_MAGIC_KUZNETSOV) {
      throw new PcapFormatError("bad-magic", base + off, "not a classic pcap magic number");
    }
    this.le = le;
    this.nano = magic === PCAP_MAGIC_NANO;
    const versionMajor = u16(buf, off + 4, le);
    const versionMinor = u16(buf, off + 6, le);
    this.order = lengthOrderOf(versionMajor, versionMinor, base + off + 4);
    const rawSnaplen = u32(buf, off + 16, le);
    const linkField = u32(buf, off + 20, le);
    const linkType = linkField & 0xffff;
    let snapshot = effectiveSnaplen(linkType, rawSnaplen);
    if (magic === PCAP_MAGIC_KUZNETSOV) {
      this.recordHeader = KUZNETSOV_RECORD_HEADER_LENGTH;
      // Its Ethernet captures were made in cooked mode with a fake 14-byte header added: libpcap allows for it.
      if (linkType === LINKTYPE_ETHERNET) snapshot = Math.min(snapshot + 14, 0x7fffffff);
    }
    this.snapshot = snapshot;
    this.maxCapture = this.limits.maxCaptureLength ?? maxCaptureLengthFor(linkType);
    this.headerDone = true;
    const section: SectionInfo = {
      format: "pcap",
      endianness: le ? "little" : "big",
      versionMajor,
      versionMinor,
      offset: base + off,
      timezoneOffset: u32(buf, off + 8, le) | 0,
      sigfigs: u32(buf, off + 12, le),
    };
    const iface: InterfaceInfo = {
      id: 0,
      linkType,
      linkTypeExtension: (linkField & 0xfc000000) >>> 0,
      snaplen: magic === PCAP_MAGIC_KUZNETSOV ? snapshot : rawSnaplen,
      resolution: { base: 10, exponent: this.nano ? 9 : 6 },
      timestampOffset: 0,
      // The FCS-length extension: bit 26 says bits 28-31 hold the FCS length in 16-bit units.
      fcsLength: linkField & 0x04000000 ? ((linkField >>> 28) & 0xf) * 2 : null,
      name: null,
      offset: base + off,
    };
    this.sink.section?.(section);
    this.sink.interface?.(iface);
  }
}

// libpcap reads versions 2.0 to 2.4 and DG/UX tcpdump's 543.0; 2.5 and later, and 1.x, it refuses.
function lengthOrderOf(major: number, minor: number, at: number): number {
  if (major === 2 && minor <= 4) {
    if (minor < 3) return LENGTHS_SWAPPED;
    return minor === 3 ? LENGTHS_SWAPPED_WHERE_CAPLEN_EXCEEDS_LEN : LENGTHS_NORMAL;
  }
  if (major === 543 && minor === 0) return LENGTHS_SWAPPED;
  throw new PcapFormatError(
    "unsupported-version",
    at,
    `pcap version ${major}.${minor} is not one libpcap reads (2.0 to 2.4, or 543.0)`,
  );
}
