// Test-only builders: hand-made pcap/pcapng bytes for cases real tools do not produce (big-endian files,
// Simple and obsolete Packet Blocks, power-of-two resolutions, hostile lengths). Real tools stay the oracle:
// tests feed these bytes to tshark too and compare.
import { pad4 } from "../bytes.js";

export interface Bytes {
  le: boolean;
}

function u16(value: number, le: boolean): Buffer {
  const b = Buffer.alloc(2);
  if (le) b.writeUInt16LE(value);
  else b.writeUInt16BE(value);
  return b;
}

function u32(value: number, le: boolean): Buffer {
  const b = Buffer.alloc(4);
  if (le) b.writeUInt32LE(value >>> 0);
  else b.writeUInt32BE(value >>> 0);
  return b;
}

function u64(value: bigint, le: boolean): Buffer {
  const b = Buffer.alloc(8);
  if (le) b.writeBigUInt64LE(BigInt.asUintN(64, value));
  else b.writeBigUInt64BE(BigInt.asUintN(64, value));
  return b;
}

/** A classic file header; `linkType` is the whole 32-bit field (upper bits included). */
export function classicHeader(opts: {
  le?: boolean;
  nano?: boolean;
  /** Kuznetsov's patched format (24-byte record headers). */
  kuznetsov?: boolean;
  snaplen?: number;
  linkType?: number;
  versionMajor?: number;
  versionMinor?: number;
  timezoneOffset?: number;
  sigfigs?: number;
}): Buffer {
  const le = opts.le ?? true;
  const magic = opts.kuznetsov ? 0xa1b2cd34 : opts.nano ? 0xa1b23c4d : 0xa1b2c3d4;
  return Buffer.concat([
    u32(magic, le),
    u16(opts.versionMajor ?? 2, le),
    u16(opts.versionMinor ?? 4, le),
    u32(opts.timezoneOffset ?? 0, le),
    u32(opts.sigfigs ?? 0, le),
    u32(opts.snaplen ?? 262144, le),
    u32(opts.linkType ?? 1, le),
  ]);
}

/**
 * A classic record. `swapLengths` writes the original length first, as versions before 2.3 did; `extra`
 * goes between header and data (Kuznetsov's 8 bytes of interface index, protocol and packet type).
 */
export function classicRecord(opts: {
  le?: boolean;
  seconds: number;
  fraction: number;
  data: Uint8Array;
  caplen?: number;
  origlen?: number;
  swapLengths?: boolean;
  extra?: Uint8Array;
}): Buffer {
  const le = opts.le ?? true;
  const caplen = opts.caplen ?? opts.data.length;
  const origlen = opts.origlen ?? opts.data.length;
  return Buffer.concat([
    u32(opts.seconds, le),
    u32(opts.fraction, le),
    u32(opts.swapLengths ? origlen : caplen, le),
    u32(opts.swapLengths ? caplen : origlen, le),
    opts.extra ?? Buffer.alloc(0),
    opts.data,
  ]);
}

export interface Option {
  code: number;
  value: Uint8Array;
}

function options(list: Option[], le: boolean): Buffer {
  if (list.length === 0) return Buffer.alloc(0);
  const parts: Buffer[] = [];
  for (const o of list) {
    parts.push(
      u16(o.code, le),
      u16(o.value.length, le),
      Buffer.from(o.value),
      Buffer.alloc(pad4(o.value.length)),
    );
  }
  parts.push(u32(0, le));
  return Buffer.concat(parts);
}

/** A block with its type, total length and trailer; `length` overrides the leading length (hostile tests). */
export function block(
  type: number,
  body: Uint8Array,
  le: boolean,
  overrides: { length?: number; trailer?: number } = {},
): Buffer {
  const total = 12 + body.length;
  return Buffer.concat([
    u32(type, le),
    u32(overrides.length ?? total, le),
    Buffer.from(body),
    u32(overrides.trailer ?? overrides.length ?? total, le),
  ]);
}

export function shb(
  le: boolean,
  opts: { versionMajor?: number; versionMinor?: number; options?: Option[] } = {},
): Buffer {
  const body = Buffer.concat([
    u32(0x1a2b3c4d, le),
    u16(opts.versionMajor ?? 1, le),
    u16(opts.versionMinor ?? 0, le),
    u64(-1n, le),
    options(opts.options ?? [], le),
  ]);
  return block(0x0a0d0d0a, body, le);
}

/** An Interface Description Block; `options` are added after the named ones, as they are. */
export function idb(
  le: boolean,
  opts: {
    linkType?: number;
    snaplen?: number;
    tsresol?: number;
    tsoffset?: bigint;
    name?: string;
    options?: Option[];
  } = {},
): Buffer {
  const list: Option[] = [];
  if (opts.name !== undefined) list.push({ code: 2, value: Buffer.from(opts.name) });
  if (opts.tsresol !== undefined) list.push({ code: 9, value: Uint8Array.of(opts.tsresol) });
  if (opts.tsoffset !== undefined) list.push({ code: 14, value: u64(opts.tsoffset, le) });
  list.push(...(opts.options ?? []));
  const body = Buffer.concat([
    u16(opts.linkType ?? 1, le),
    u16(0, le),
    u32(opts.snaplen ?? 0, le),
    options(list, le),
  ]);
  return block(1, body, le);
}

export function epb(
  le: boolean,
  opts: {
    interfaceId?: number;
    units: bigint;
    data: Uint8Array;
    origlen?: number;
    caplen?: number;
    options?: Option[];
  },
): Buffer {
  const caplen = opts.caplen ?? opts.data.length;
  const body = Buffer.concat([
    u32(opts.interfaceId ?? 0, le),
    u32(Number(opts.units >> 32n), le),
    u32(Number(opts.units & 0xffffffffn), le),
    u32(caplen, le),
    u32(opts.origlen ?? opts.data.length, le),
    Buffer.from(opts.data),
    Buffer.alloc(pad4(opts.data.length)),
    options(opts.options ?? [], le),
  ]);
  return block(6, body, le);
}

export function spb(le: boolean, opts: { data: Uint8Array; origlen?: number }): Buffer {
  const body = Buffer.concat([
    u32(opts.origlen ?? opts.data.length, le),
    Buffer.from(opts.data),
    Buffer.alloc(pad4(opts.data.length)),
  ]);
  return block(3, body, le);
}

/** Obsolete Packet Block (type 2): 16-bit interface id and drops count. */
export function opb(le: boolean, opts: { interfaceId?: number; units: bigint; data: Uint8Array }): Buffer {
  const body = Buffer.concat([
    u16(opts.interfaceId ?? 0, le),
    u16(0, le),
    u32(Number(opts.units >> 32n), le),
    u32(Number(opts.units & 0xffffffffn), le),
    u32(opts.data.length, le),
    u32(opts.data.length, le),
    Buffer.from(opts.data),
    Buffer.alloc(pad4(opts.data.length)),
  ]);
  return block(2, body, le);
}

/** A Custom Block (0x00000BAD) with a Private Enterprise Number: readers must skip it. */
export function customBlock(le: boolean, payload: Uint8Array): Buffer {
  const body = Buffer.concat([u32(32473, le), Buffer.from(payload), Buffer.alloc(pad4(payload.length))]);
  return block(0x00000bad, body, le);
}

/** A frame that tshark dissects as Ethernet + IPv4 + UDP, of `size` bytes (at least 42). */
export function udpFrame(size: number, seed = 0): Buffer {
  const frame = Buffer.alloc(Math.max(size, 42));
  frame.set([0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00], 0);
  const ipLength = frame.length - 14;
  frame.set(
    [0x45, 0, ipLength >> 8, ipLength & 0xff, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2],
    14,
  );
  const udpLength = ipLength - 20;
  frame.set([0x30, 0x39, 0x30, 0x3a, udpLength >> 8, udpLength & 0xff, 0, 0], 34);
  for (let i = 42; i < frame.length; i++) frame[i] = (i * 31 + seed) & 0xff;
  return frame;
}

/** Rewrites a classic pcap in the other byte order (header and record headers; packet bytes unchanged). */
export function swapClassic(bytes: Uint8Array): Buffer {
  const out = Buffer.from(bytes);
  const swap32 = (at: number): void => {
    out.writeUInt32BE(out.readUInt32LE(at), at);
  };
  const le = out.readUInt32LE(0) === 0xa1b2c3d4 || out.readUInt32LE(0) === 0xa1b23c4d;
  const read = (at: number): number =>
    le ? Buffer.from(bytes).readUInt32LE(at) : Buffer.from(bytes).readUInt32BE(at);
  swap32(0);
  out.writeUInt16BE(out.readUInt16LE(4), 4);
  out.writeUInt16BE(out.readUInt16LE(6), 6);
  for (const at of [8, 12, 16, 20]) swap32(at);
  let off = 24;
  while (off + 16 <= out.length) {
    const caplen = read(off + 8);
    for (const at of [0, 4, 8, 12]) swap32(off + at);
    off += 16 + caplen;
  }
  return out;
}

/**
 * Rewrites a little-endian pcapng (as editcap/mergecap write it) in big-endian. Swaps the fields of SHB,
 * IDB, EPB, SPB and their options with known sizes; other blocks are dropped.
 */
export function pcapngToBigEndian(bytes: Uint8Array): Buffer {
  const src = Buffer.from(bytes);
  const parts: Buffer[] = [];
  let off = 0;
  while (off + 12 <= src.length) {
    const type = src.readUInt32LE(off);
    const length = src.readUInt32LE(off + 4);
    const body = Buffer.from(src.subarray(off + 8, off + length - 4));
    const swap32 = (at: number): void => {
      body.writeUInt32BE(body.readUInt32LE(at), at);
    };
    const swap16 = (at: number): void => {
      body.writeUInt16BE(body.readUInt16LE(at), at);
    };
    const swapOptions = (start: number, eightByte: number[], fourByte: number[]): void => {
      let at = start;
      while (at + 4 <= body.length) {
        const code = body.readUInt16LE(at);
        const len = body.readUInt16LE(at + 2);
        swap16(at);
        swap16(at + 2);
        if (code === 0) break;
        if (eightByte.includes(code) && len === 8)
          body.writeBigUInt64BE(body.readBigUInt64LE(at + 4), at + 4);
        if (fourByte.includes(code) && len === 4) swap32(at + 4);
        at += 4 + len + pad4(len);
      }
    };
    let keep = true;
    if (type === 0x0a0d0d0a) {
      swap32(0);
      swap16(4);
      swap16(6);
      body.writeBigUInt64BE(body.readBigUInt64LE(8), 8);
      swapOptions(16, [], []);
    } else if (type === 1) {
      swap16(0);
      swap16(2);
      swap32(4);
      swapOptions(8, [8, 14], []);
    } else if (type === 6) {
      const caplen = body.readUInt32LE(12);
      for (const at of [0, 4, 8, 12, 16]) swap32(at);
      swapOptions(20 + caplen + pad4(caplen), [4], [2]);
    } else if (type === 3) {
      swap32(0);
    } else {
      keep = false;
    }
    if (keep) parts.push(block(type, body, false));
    off += length;
  }
  return Buffer.concat(parts);
}
