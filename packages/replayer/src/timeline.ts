import type { Speed } from "./speed.js";

/**
 * Send times of consecutive records on one timeline, in ns from its origin. Original mode follows the
 * capture's gaps (divided by the multiplier, each capped at maxGapMs, going backwards counts as 0),
 * across file boundaries too; pps and mbps space records evenly; topspeed has no send times (NaN).
 */
export class Timeline {
  private position = 0;
  private lastSeconds: number | null = null;
  private lastNanoseconds = 0;
  private readonly maxGapNs: number;

  constructor(
    private readonly speed: Speed,
    maxGapMs: number,
  ) {
    this.maxGapNs = maxGapMs * 1e6;
  }

  /** Send time of the next record. */
  next(seconds: number, nanoseconds: number, frameBytes: number): number {
    switch (this.speed.kind) {
      case "topspeed":
        return Number.NaN;
      case "original": {
        if (this.lastSeconds !== null) {
          const gap = (seconds - this.lastSeconds) * 1e9 + (nanoseconds - this.lastNanoseconds);
          this.position += Math.min(Math.max(gap, 0), this.maxGapNs) / this.speed.multiplier;
        }
        this.lastSeconds = seconds;
        this.lastNanoseconds = nanoseconds;
        return this.position;
      }
      case "pps": {
        const at = this.position;
        this.position += 1e9 / this.speed.pps;
        return at;
      }
      case "mbps": {
        const at = this.position;
        this.position += (frameBytes * 8000) / this.speed.mbps;
        return at;
      }
    }
  }

  /** Forgets the previous record: the next one starts a fresh timeline (after a stopped file). */
  reset(): void {
    this.lastSeconds = null;
    this.position = 0;
  }

  /** True when records carry send times. */
  get paced(): boolean {
    return this.speed.kind !== "topspeed";
  }
}
