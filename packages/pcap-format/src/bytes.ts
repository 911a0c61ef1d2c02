// Explicit-endian integer reads on plain byte arrays: no DataView per chunk, no allocation.

export function u16(buf: Uint8Array, off: number, le: boolean): number {
  return le ? buf[off]! | (buf[off + 1]! << 8) : (buf[off]! << 8) | buf[off + 1]!;
}

export function u32(buf: Uint8Array, off: number, le: boolean): number {
  return le
    ? (buf[off]! | (buf[off + 1]! << 8) | (buf[off + 2]! << 16) | (buf[off + 3]! << 24)) >>> 0
    : ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
}

export function i32(buf: Uint8Array, off: number, le: boolean): number {
  return u32(buf, off, le) | 0;
}

/** A signed 64-bit integer as a bigint (rare fields only: pcapng section length, if_tsoffset). */
export function i64(buf: Uint8Array, off: number, le: boolean): bigint {
  const hi = le ? u32(buf, off + 4, true) : u32(buf, off, false);
  const lo = le ? u32(buf, off, true) : u32(buf, off + 4, false);
  return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
}

export function writeU32(buf: Uint8Array, off: number, value: number, le: boolean): void {
  if (le) {
    buf[off] = value;
    buf[off + 1] = value >>> 8;
    buf[off + 2] = value >>> 16;
    buf[off + 3] = value >>> 24;
  } else {
    buf[off] = value >>> 24;
    buf[off + 1] = value >>> 16;
    buf[off + 2] = value >>> 8;
    buf[off + 3] = value;
  }
}

export function writeU16(buf: Uint8Array, off: number, value: number, le: boolean): void {
  if (le) {
    buf[off] = value;
    buf[off + 1] = value >>> 8;
  } else {
    buf[off] = value >>> 8;
    buf[off + 1] = value;
  }
}

export const hostIsLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Bytes of padding that bring `n` to a multiple of 4 (pcapng alignment). */
export function pad4(n: number): number {
  return (4 - (n & 3)) & 3;
}
