import type { TimingSummary } from "./child-protocol.js";

/** Send-time errors (µs) of one file: percentiles over a bounded reservoir, max over all. */
export class TimingRecorder {
  private samples: Float64Array;
  private count = 0;
  private seen = 0;
  private max = 0;

  constructor(private readonly capacity = 1_000_000) {
    this.samples = new Float64Array(Math.min(capacity, 4096));
  }

  add(errorUs: number): void {
    this.seen++;
    if (errorUs > this.max) this.max = errorUs;
    if (this.count < this.capacity) {
      if (this.count === this.samples.length) {
        const grown = new Float64Array(Math.min(this.capacity, this.samples.length * 2));
        grown.set(this.samples);
        this.samples = grown;
      }
      this.samples[this.count++] = errorUs;
      return;
    }
    // Reservoir sampling keeps an unbiased sample once the file outgrows the buffer.
    const slot = Math.floor(Math.random() * this.seen);
    if (slot < this.capacity) this.samples[slot] = errorUs;
  }

  summary(): TimingSummary | null {
    if (this.count === 0) return null;
    const sorted = this.samples.slice(0, this.count).sort();
    return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: round(this.max) };
  }
}

function percentile(sorted: Float64Array, q: number): number {
  return round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);
}

function round(us: number): number {
  return Math.round(us * 10) / 10;
}
