// Capture files for the replayer's lab tests: frames to nobody, classic pcap written by PcapWriter, and
// hand-built pcapng for what no tool writes on purpose (an interface added mid-file, a record whose
// captured length exceeds its original length, either byte order).
import { readFileSync } from "node:fs";
import { LinkType, type PacketRecord, PcapWriter, readCaptureSync } from "@sluice/pcap-format";

/** Frames as hex strings: what "the same frames" is compared by. */
export const hex = (packets: { data: Uint8Array }[]): string[] =>
  packets.map((p) => Buffer.from(p.data).toString("hex"));

/** A capture file's records. */
export const readFile = (path: string): PacketRecord[] =>
  readCaptureSync(new Uint8Array(readFileSync(path))).packets;

/** A frame to nobody: locally administered MACs, an experimental ethertype, the index in the payload. */
export function frame(index: number, size = 100, ethertype = 0x88b5): Buffer {
  const data = Buffer.alloc(size, index & 0xff);
  Buffer.from([0x02, 0xbb, 0, 0, 0, 2, 0x02, 0xaa, 0, 0, 0, 1]).copy(data, 0);
  data.writeUInt16BE(ethertype, 12);
  data.writeUInt32BE(index, 14);
  return data;
}

/** Writes a classic pcap of `frames` at the given times (seconds, as floats from a base). */
export function writeCapture(
  path: string,
  frames: { data: Uint8Array; at: number }[],
  linkType: number = LinkType.ETHERNET,
): string {
  const writer = PcapWriter.create(path, { linkType, precision: "nano" });
  const base = 1_700_000_000;
  for (const { data, at } of frames) {
    const whole = Math.floor(at);
    writer.writePacket({ seconds: base + whole, nanoseconds: Math.round((at - whole) * 1e9), data });
  }
  writer.flushSync();
  void writer.close();
  return path;
}

/** pcapng blocks in one byte order (microsecond time stamps, libpcap's default resolution). */
export class PcapngBuilder {
  constructor(readonly littleEndian: boolean) {}

  private u16(value: number): Buffer {
    const b = Buffer.alloc(2);
    if (this.littleEndian) b.writeUInt16LE(value);
    else b.writeUInt16BE(value);
    return b;
  }

  private u32(value: number): Buffer {
    const b = Buffer.alloc(4);
    if (this.littleEndian) b.writeUInt32LE(value >>> 0);
    else b.writeUInt32BE(value >>> 0);
    return b;
  }

  /** A block: type, total length, body padded to 4, total length again. */
  block(type: number, body: Uint8Array): Buffer {
    const padded = Buffer.concat([body, Buffer.alloc((4 - (body.length % 4)) % 4)]);
    const total = 12 + padded.length;
    return Buffer.concat([this.u32(type), this.u32(total), padded, this.u32(total)]);
  }

  sectionHeader(): Buffer {
    const unknownLength = Buffer.alloc(8, 0xff);
    return this.block(
      0x0a0d0d0a,
      Buffer.concat([this.u32(0x1a2b3c4d), this.u16(1), this.u16(0), unknownLength]),
    );
  }

  interfaceDescription(linkType: number, snaplen: number): Buffer {
    return this.block(1, Buffer.concat([this.u16(linkType), this.u16(0), this.u32(snaplen)]));
  }

  /**
   * An Enhanced Packet Block. `origlen` defaults to the data's length; `flags` adds an epb_flags option
   * (the block then runs past its data).
   */
  packet(
    interfaceId: number,
    micros: number,
    data: Uint8Array,
    opts: { origlen?: number; flags?: number } = {},
  ): Buffer {
    const padded = Buffer.concat([data, Buffer.alloc((4 - (data.length % 4)) % 4)]);
    const options =
      opts.flags === undefined
        ? Buffer.alloc(0)
        : Buffer.concat([this.u16(2), this.u16(4), this.u32(opts.flags), this.u32(0)]);
    return this.block(
      6,
      Buffer.concat([
        this.u32(interfaceId),
        this.u32(Math.floor(micros / 2 ** 32)),
        this.u32(micros % 2 ** 32),
        this.u32(data.length),
        this.u32(opts.origlen ?? data.length),
        padded,
        options,
      ]),
    );
  }

  /** A Simple Packet Block (interface 0, no time stamp): a packet the decoder reads, not a scan. */
  simplePacket(data: Uint8Array, origlen = data.length): Buffer {
    return this.block(3, Buffer.concat([this.u32(origlen), Buffer.from(data)]));
  }

  /** An Interface Statistics Block: a block between packets that is not one. */
  statistics(interfaceId: number, micros: number): Buffer {
    return this.block(
      5,
      Buffer.concat([
        this.u32(interfaceId),
        this.u32(Math.floor(micros / 2 ** 32)),
        this.u32(micros % 2 ** 32),
      ]),
    );
  }
}

/**
 * A classic pcap, little-endian, microseconds, of hand-made records: `caplen` may exceed the file's
 * snaplen or the record's `origlen`, and `fraction` may be a second or more, as no writer of ours allows.
 */
export function classicCapture(
  snaplen: number,
  records: { data: Uint8Array; origlen?: number; seconds?: number; fraction?: number }[],
  { littleEndian = true, nano = false }: { littleEndian?: boolean; nano?: boolean } = {},
): Buffer {
  const u32 = (value: number): Buffer => {
    const b = Buffer.alloc(4);
    if (littleEndian) b.writeUInt32LE(value >>> 0);
    else b.writeUInt32BE(value >>> 0);
    return b;
  };
  const version = littleEndian ? Buffer.from([2, 0, 4, 0]) : Buffer.from([0, 2, 0, 4]);
  const magic = u32(nano ? 0xa1b23c4d : 0xa1b2c3d4);
  const parts = [magic, version, u32(0), u32(0), u32(snaplen), u32(LinkType.ETHERNET)];
  records.forEach((r, i) => {
    parts.push(
      u32(r.seconds ?? 1_700_000_000 + i),
      u32(r.fraction ?? 0),
      u32(r.data.length),
      u32(r.origlen ?? r.data.length),
      Buffer.from(r.data),
    );
  });
  return Buffer.concat(parts);
}
