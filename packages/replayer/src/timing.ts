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

/**
 * Busy-waits on a clock without filling the young heap. `performance.now()` allocates a number per
 * call: a wait that calls it in a tight loop streams megabytes through the caches and wakes the garbage
 * collector, and the next inject then runs cold (measured: 28–31 µs for the first send after a 10 ms
 * wait, against 7–9 µs after a wait that does not allocate). Between two clock readings the spinner runs
 * an arithmetic loop sized from a calibration: long while the target is far, short when it is near.
 */
export class Spinner {
  /** Loop turns per nanosecond. */
  private turnsPerNs = 0;
  private sink = 0;

  constructor(private readonly clock: () => number) {
    this.calibrate();
  }

  /** Measures the loop: the fastest of a few short runs (about a millisecond in all). */
  calibrate(): void {
    const turns = 20_000;
    let best = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 20; i++) {
      const start = this.clock();
      this.turn(turns);
      best = Math.min(best, this.clock() - start);
    }
    this.turnsPerNs = turns / Math.max(best, 1);
  }

  /** Spins until the clock reaches `target`; returns the clock's last reading. */
  until(target: number): number {
    let now = this.clock();
    while (now < target) {
      // A quarter of what is left, at most 20 µs, between two readings: a loop slowed down or preempted
      // still reads the clock long before the target.
      const left = target - now;
      // Always a small integer count, as in the calibration: a fractional count would make V8 drop the
      // compiled loop, and an interpreted turn meant for 20 µs then takes a millisecond or more.
      if (left > 1000) this.turn(Math.floor(Math.min(left / 4, 20_000) * this.turnsPerNs));
      now = this.clock();
    }
    return now;
  }

  private turn(count: number): void {
    let sink = this.sink;
    for (let i = 0; i < count; i++) sink = (sink * 31 + i) | 0;
    this.sink = sink;
  }
}

/** A send this long after the previous one finished counts as cold. */
const COLD_AFTER_NS = 1_000_000;
/** A send this soon after the previous one counts as warm. */
const WARM_WITHIN_NS = 200_000;
/** Cold sends are told apart by how long the quiet spell was: 1–2, 2–4, 4–8, 8–16 and over 16 ms. */
const COLD_BUCKETS = 5;
/** A kind of cold send is led by the median of its last few, once there are enough of them. */
const COLD_WINDOW = 15;
const COLD_MIN_SAMPLES = 8;
/** The lead never exceeds this, whatever a few slow sends taught it. */
const MAX_LEAD_NS = 100_000;

/**
 * How much longer an inject takes after a quiet spell than inside a burst. The kernel's send path (and
 * the peer's receive path, which a veth runs in the sender's context) goes cold while nothing is sent:
 * measured on a veth, the first frame after 10 ms took 7–15 µs to reach the peer against 2–3 µs in a
 * burst, and the longer the spell the colder. The loop starts a cold send earlier by the difference,
 * so the frame reaches the wire on time and the gap before it keeps its length.
 *
 * Both figures are medians of this run's own sends: of the last 15 cold sends after a spell of about
 * the same length, and a running median of warm ones. A mean would follow the odd preempted send, and
 * the first sends of a run (code not yet compiled) are slower than any later ones; either would start
 * the next cold sends too early, which is as wrong as too late.
 */
export class SendLatency {
  private readonly cold = Array.from({ length: COLD_BUCKETS }, () => new WindowMedian(COLD_WINDOW));
  private warm = Number.NaN;
  private lastEnd = Number.NEGATIVE_INFINITY;

  /** How much earlier than `sendAt` (ns, on the clock `record` gets) a send due then should start. */
  lead(sendAt: number): number {
    return this.leadAfter(sendAt - this.lastEnd);
  }

  /** The lead of a send after a quiet spell of `idleNs`. */
  private leadAfter(idleNs: number): number {
    const bucket = coldBucket(idleNs);
    if (bucket < 0 || Number.isNaN(this.warm)) return 0;
    const cold = this.cold[bucket]!;
    if (cold.count < COLD_MIN_SAMPLES) return 0;
    return Math.max(0, Math.min(MAX_LEAD_NS, cold.median - this.warm));
  }

  /** Records a send of `frames` frames that started at `start` and returned at `end`. */
  record(start: number, end: number, frames = 1): void {
    const took = end - start;
    const idle = start - this.lastEnd;
    this.lastEnd = end;
    // A run of several frames says when the link went busy, not how long one cold frame takes.
    if (frames !== 1) return;
    const bucket = coldBucket(idle);
    if (bucket >= 0) this.cold[bucket]!.add(took);
    else if (idle < WARM_WITHIN_NS) this.warm = towardMedian(this.warm, took);
  }
}

function coldBucket(idleNs: number): number {
  if (!(idleNs >= COLD_AFTER_NS) || idleNs === Number.POSITIVE_INFINITY) return -1;
  return Math.min(COLD_BUCKETS - 1, Math.floor(Math.log2(idleNs / COLD_AFTER_NS)));
}

/** The median of the last `size` samples (recomputed on each add: for samples that come rarely). */
class WindowMedian {
  private readonly samples: number[] = [];
  private next = 0;
  median = Number.NaN;

  constructor(private readonly size: number) {}

  get count(): number {
    return this.samples.length;
  }

  add(sample: number): void {
    if (this.samples.length < this.size) this.samples.push(sample);
    else this.samples[this.next] = sample;
    this.next = (this.next + 1) % this.size;
    const sorted = [...this.samples].sort((a, b) => a - b);
    this.median = sorted[sorted.length >> 1]!;
  }
}

/** One step of a running median: a small step toward the sample, whatever the sample's size. */
function towardMedian(estimate: number, sample: number): number {
  if (Number.isNaN(estimate)) return sample;
  const step = Math.max(100, estimate / 32);
  return sample > estimate
    ? estimate + Math.min(step, sample - estimate)
    : estimate - Math.min(step, estimate - sample);
}
