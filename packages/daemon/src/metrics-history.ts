import { type Labels, type MetricsRegistry, type Sample, sampleSum } from "./metrics.js";

/** A series of a MetricsHistory: the sum of the samples named `name` whose labels include `labels`. */
export interface SeriesSelector {
  name: string;
  labels?: Labels;
}

/** Options of a MetricsHistory. */
export interface MetricsHistoryOptions {
  /** Metric names whose samples are kept (others are not stored). */
  names: readonly string[];
  /** Snapshots kept (default 61: sixty one-second steps). */
  points?: number;
  /** Time between snapshots (default 1000 ms). */
  intervalMs?: number;
}

interface Snapshot {
  at: number;
  samples: Sample[];
}

/**
 * The last minute of some metrics, one snapshot per interval: what a freshly opened status page charts
 * (rates need two readings, and a page must not start with an empty chart). Snapshots are taken from the
 * registry itself, so every rate is a difference of the very counters `/metrics` exports.
 */
export class MetricsHistory {
  private readonly names: Set<string>;
  private readonly points: number;
  readonly intervalMs: number;
  private readonly snapshots: Snapshot[] = [];
  private timer: NodeJS.Timeout | null = null;
  private taking: Promise<void> | null = null;

  constructor(options: MetricsHistoryOptions) {
    this.names = new Set(options.names);
    this.points = Math.max(2, options.points ?? 61);
    this.intervalMs = options.intervalMs ?? 1000;
  }

  /** Takes a snapshot of `registry` now and then every interval, until stop. */
  start(registry: MetricsRegistry): void {
    const take = (): void => {
      if (this.taking) return; // a slow collector: skip a beat rather than pile up
      this.taking = registry
        .samples()
        .then((samples) => this.record(samples))
        .catch(() => {})
        .finally(() => {
          this.taking = null;
        });
    };
    take();
    this.timer = setInterval(take, this.intervalMs);
    this.timer.unref?.();
  }

  /** Stops taking snapshots (those taken are kept). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.taking;
  }

  /** Stores one snapshot (what the timer does; tests call it with chosen samples and times). */
  record(samples: readonly Sample[], at = Date.now()): void {
    this.snapshots.push({ at, samples: samples.filter((s) => this.names.has(s.name)) });
    if (this.snapshots.length > this.points) this.snapshots.splice(0, this.snapshots.length - this.points);
  }

  /** Seconds the history spans (0 before two snapshots). */
  get spanSeconds(): number {
    const first = this.snapshots[0];
    const last = this.snapshots.at(-1);
    return first && last ? (last.at - first.at) / 1000 : 0;
  }

  /**
   * Per-second rates of the sum of `series` between consecutive snapshots, oldest first (one fewer than
   * the snapshots). A sum that went down (a counter reset, a restarted source) counts as 0 for that step.
   */
  rates(series: readonly SeriesSelector[]): number[] {
    const rates: number[] = [];
    for (let i = 1; i < this.snapshots.length; i++) {
      const before = this.snapshots[i - 1]!;
      const after = this.snapshots[i]!;
      const seconds = (after.at - before.at) / 1000;
      const delta = sum(after.samples, series) - sum(before.samples, series);
      rates.push(seconds > 0 ? Math.max(0, delta) / seconds : 0);
    }
    return rates;
  }

  /** The mean per-second rate of the sum of `series` over the last `seconds` (or the whole history). */
  rate(series: readonly SeriesSelector[], seconds: number): number {
    const last = this.snapshots.at(-1);
    if (last === undefined) return 0;
    const from = this.snapshots.find((s) => s.at >= last.at - seconds * 1000 - this.intervalMs / 2)!;
    const span = (last.at - from.at) / 1000;
    return span > 0 ? this.increase(series, from, last) / span : 0;
  }

  /** How much the sum of `series` rose over the whole history (resets count as restarts from 0). */
  increaseOverHistory(series: readonly SeriesSelector[]): number {
    const first = this.snapshots[0];
    const last = this.snapshots.at(-1);
    return first && last ? this.increase(series, first, last) : 0;
  }

  private increase(series: readonly SeriesSelector[], from: Snapshot, to: Snapshot): number {
    let total = 0;
    let previous = sum(from.samples, series);
    for (let i = this.snapshots.indexOf(from) + 1; i <= this.snapshots.indexOf(to); i++) {
      const value = sum(this.snapshots[i]!.samples, series);
      total += Math.max(0, value - previous);
      previous = value;
    }
    return total;
  }
}

function sum(samples: readonly Sample[], series: readonly SeriesSelector[]): number {
  let total = 0;
  for (const { name, labels } of series) total += sampleSum(samples, name, labels);
  return total;
}
