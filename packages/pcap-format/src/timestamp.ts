/** A packet time: whole seconds since the epoch plus nanoseconds (0 ≤ nanoseconds < 1e9), never a float. */
export interface Timestamp {
  seconds: number;
  nanoseconds: number;
}

/** pcapng `if_tsresol`: timestamps count units of base^-exponent seconds. Classic pcap is 10^-6 or 10^-9. */
export interface TimestampResolution {
  base: 10 | 2;
  exponent: number;
}

/**
 * Formats a timestamp as `"<seconds>.<9 digits>"`, the form `tshark -e frame.time_epoch` prints, exactly.
 * Negative times (possible with pcapng `if_tsoffset`) keep the value: -1 s + 0.5 s prints `-0.500000000`.
 */
export function formatTimestamp(seconds: number, nanoseconds: number): string {
  if (seconds < 0 && nanoseconds > 0) {
    return `-${integerText(-(seconds + 1))}.${String(1_000_000_000 - nanoseconds).padStart(9, "0")}`;
  }
  return `${integerText(seconds)}.${String(nanoseconds).padStart(9, "0")}`;
}

function integerText(n: number): string {
  return Number.isSafeInteger(n) ? String(n) : BigInt(n).toString();
}

/** Orders two timestamps: negative, zero or positive like a sort comparator. */
export function compareTimestamps(a: Timestamp, b: Timestamp): number {
  return a.seconds !== b.seconds ? a.seconds - b.seconds : a.nanoseconds - b.nanoseconds;
}

/**
 * Turns 64-bit pcapng timestamps (high and low 32-bit words) into seconds and nanoseconds for one
 * interface's resolution and offset. Decimal resolutions up to nanoseconds take an exact float-free path;
 * others go through bigint. The result lands in `seconds`/`nanoseconds` so the hot path allocates nothing.
 */
export class TimestampScale {
  seconds = 0;
  nanoseconds = 0;
  readonly resolution: TimestampResolution;
  private readonly divisor: number;
  private readonly nanoMultiplier: number;
  private readonly fast: boolean;
  private readonly offsetSeconds: number;
  private readonly offsetBig: bigint;

  constructor(resolution: TimestampResolution, offsetSeconds: bigint = 0n) {
    this.resolution = resolution;
    this.fast = resolution.base === 10 && resolution.exponent <= 9;
    this.divisor = this.fast ? 10 ** resolution.exponent : 0;
    this.nanoMultiplier = this.fast ? 10 ** (9 - resolution.exponent) : 0;
    this.offsetBig = offsetSeconds;
    this.offsetSeconds = Number(offsetSeconds);
  }

  /** Converts the unsigned 64-bit unit count `hi * 2^32 + lo`. */
  convert(hi: number, lo: number): void {
    if (!this.fast) {
      this.convertSlow(hi, lo);
      return;
    }
    const div = this.divisor;
    let q: number;
    let r: number;
    if (hi < 0x200000) {
      // Below 2^53 the value is an exact double; fix the quotient up if the division rounded across.
      const v = hi * 4294967296 + lo;
      q = Math.floor(v / div);
      r = v - q * div;
      if (r < 0) {
        q -= 1;
        r += div;
      } else if (r >= div) {
        q += 1;
        r -= div;
      }
    } else {
      // Long division by 16-bit limbs: every intermediate stays below 2^46, so exact.
      let cur = hi >>> 16;
      let d = Math.floor(cur / div);
      r = cur - d * div;
      q = d;
      cur = r * 65536 + (hi & 0xffff);
      d = Math.floor(cur / div);
      r = cur - d * div;
      q = q * 65536 + d;
      cur = r * 65536 + (lo >>> 16);
      d = Math.floor(cur / div);
      r = cur - d * div;
      q = q * 65536 + d;
      cur = r * 65536 + (lo & 0xffff);
      d = Math.floor(cur / div);
      r = cur - d * div;
      q = q * 65536 + d;
    }
    this.seconds = q + this.offsetSeconds;
    this.nanoseconds = r * this.nanoMultiplier;
  }

  private convertSlow(hi: number, lo: number): void {
    const units = (BigInt(hi) << 32n) | BigInt(lo);
    const { base, exponent } = this.resolution;
    let seconds: bigint;
    let nanos: bigint;
    if (base === 2) {
      const e = BigInt(exponent);
      seconds = units >> e;
      nanos = ((units & ((1n << e) - 1n)) * 1_000_000_000n) >> e;
    } else {
      const div = 10n ** BigInt(exponent);
      seconds = units / div;
      nanos = (units % div) / 10n ** BigInt(exponent - 9);
    }
    this.seconds = Number(seconds + this.offsetBig);
    this.nanoseconds = Number(nanos);
  }
}

/** Decodes a pcapng `if_tsresol` byte: high bit clear means 10^-n, set means 2^-n. */
export function resolutionFromByte(value: number): TimestampResolution {
  return value & 0x80 ? { base: 2, exponent: value & 0x7f } : { base: 10, exponent: value };
}

/** "micro" when units are no finer than microseconds, "nano" otherwise (for classic pcap output). */
export function precisionOf(resolution: TimestampResolution): "micro" | "nano" {
  const finerThanMicro = resolution.base === 10 ? resolution.exponent > 6 : resolution.exponent > 19; // 2^-20 s < 1 µs
  return finerThanMicro ? "nano" : "micro";
}
