import { u16, u32 } from "./bytes.js";
import {
  PCAP_FILE_HEADER_LENGTH,
  PCAP_MAGIC_MICRO,
  PCAP_MAGIC_NANO,
  PCAP_RECORD_HEADER_LENGTH,
} from "./constants.js";
import type { DecoderLimits, DecoderSink, FormatDecoder } from "./decoder-sink.js";
import { PcapFormatError } from "./errors.js";
import type { InterfaceInfo, SectionInfo } from "./types.js";

/** Classic pcap (libpcap savefile) in any of its four magics. */
export class PcapDecoder implements FormatDecoder {
  private headerDone = false;
  private le = true;
  private nano = false;
  private snaplen = 0;

  constructor(
    private readonly sink: DecoderSink,
    private readonly limits: DecoderLimits,
  ) {}

  needed(buf: Uint8Array, off: number, end: number, base: number): number {
    if (!this.headerDone) return PCAP_FILE_HEADER_LENGTH;
    if (end - off < PCAP_RECORD_HEADER_LENGTH) return PCAP_RECORD_HEADER_LENGTH;
    const caplen = u32(buf, off + 8, this.le);
    this.checkLengths(caplen, u32(buf, off + 12, this.le), base + off);
    return PCAP_RECORD_HEADER_LENGTH + caplen;
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
    const maxCap = this.limits.maxCaptureLength;
    const snaplen = this.snaplen;
    while (end - off >= PCAP_RECORD_HEADER_LENGTH) {
      const caplen = u32(buf, off + 8, le);
      const origlen = u32(buf, off + 12, le);
      if (caplen > maxCap || (snaplen !== 0 && caplen > snaplen) || caplen > origlen) {
        this.checkLengths(caplen, origlen, base + off);
      }
      const next = off + PCAP_RECORD_HEADER_LENGTH + caplen;
      if (next > end) break;
      let seconds = u32(buf, off, le);
      let frac = u32(buf, off + 4, le);
      if (frac >= fracLimit) {
        // Out-of-range fractions exist in the wild; carry them into seconds rather than report 1.5e9 ns.
        seconds += Math.floor(frac / fracLimit);
        frac %= fracLimit;
      }
      sink.packet(buf, off + PCAP_RECORD_HEADER_LENGTH, caplen, origlen, seconds, frac * fracToNanos, 0, off);
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

  private checkLengths(caplen: number, origlen: number, at: number): void {
    const max = this.limits.maxCaptureLength;
    if (caplen > max) {
      throw new PcapFormatError("caplen-over-max", at, `record captured length ${caplen} exceeds ${max}`);
    }
    if (this.snaplen !== 0 && caplen > this.snaplen) {
      throw new PcapFormatError(
        "caplen-over-snaplen",
        at,
        `record captured length ${caplen} exceeds the file's snaplen ${this.snaplen}`,
      );
    }
    if (caplen > origlen) {
      throw new PcapFormatError(
        "caplen-over-origlen",
        at,
        `record captured length ${caplen} exceeds its original length ${origlen}`,
      );
    }
  }

  private readHeader(buf: Uint8Array, off: number, base: number): void {
    const magicLe = u32(buf, off, true);
    const magicBe = u32(buf, off, false);
    if (magicLe === PCAP_MAGIC_MICRO || magicLe === PCAP_MAGIC_NANO) this.le = true;
    else if (magicBe === PCAP_MAGIC_MICRO || magicBe === PCAP_MAGIC_NANO) this.le = false;
    else throw new PcapFormatError("bad-magic", base + off, "not a classic pcap magic number");
    const le = this.le;
    this.nano = u32(buf, off, le) === PCAP_MAGIC_NANO;
    const versionMajor = u16(buf, off + 4, le);
    const versionMinor = u16(buf, off + 6, le);
    if (versionMajor !== 2) {
      throw new PcapFormatError(
        "unsupported-version",
        base + off + 4,
        `pcap version ${versionMajor}.${versionMinor} is not 2.x`,
      );
    }
    this.snaplen = u32(buf, off + 16, le);
    const linkField = u32(buf, off + 20, le);
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
      linkType: linkField & 0xffff,
      snaplen: this.snaplen,
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
