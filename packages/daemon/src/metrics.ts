import { DaemonError } from "./errors.js";
/** Label values of one series, by label name. */
export type Labels = Record<string, string>;

/** The two metric types Sluice exposes. */
export type MetricType = "counter" | "gauge";

/** One sample as the exposition format has it. */
export interface Sample {
  name: string;
  labels: Labels;
  value: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A family of series sharing a name, help text and label names. */
abstract class Metric {
  private readonly series = new Map<string, { labels: Labels; value: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    readonly type: MetricType,
  ) {
    if (!NAME.test(name))
      throw new DaemonError("bad-metric", `metric name "${name}" is not a Prometheus name`);
    for (const label of labelNames) {
      if (!LABEL.test(label))
        throw new DaemonError("bad-metric", `label name "${label}" of ${name} is not valid`);
    }
  }

  /** The current value of one series (0 when it was never touched). */
  get(labels: Labels = {}): number {
    return this.series.get(this.key(labels))?.value ?? 0;
  }

  /** Forgets one series (a destination removed from the config). */
  remove(labels: Labels = {}): void {
    this.series.delete(this.key(labels));
  }

  /** Forgets every series. */
  reset(): void {
    this.series.clear();
  }

  /** Every series with its value. */
  samples(): Sample[] {
    return [...this.series.values()].map(({ labels, value }) => ({ name: this.name, labels, value }));
  }

  protected add(labels: Labels, delta: number, set: boolean): void {
    const key = this.key(labels);
    const entry = this.series.get(key);
    if (entry) entry.value = set ? delta : entry.value + delta;
    else this.series.set(key, { labels: this.pick(labels), value: delta });
  }

  private key(labels: Labels): string {
    return this.labelNames.map((name) => labels[name] ?? "").join("\u0000");
  }

  private pick(labels: Labels): Labels {
    const out: Labels = {};
    for (const name of this.labelNames) {
      const value = labels[name];
      if (value === undefined) throw new DaemonError("bad-metric", `${this.name} needs label "${name}"`);
      out[name] = value;
    }
    return out;
  }
}

/** A total that only goes up (`..._total`). */
export class Counter extends Metric {
  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) throw new DaemonError("bad-metric", `${this.name} can only go up, not by ${by}`);
    this.add(labels, by, false);
  }
}

/** A value that goes up and down: bytes in the spool, files waiting. */
export class Gauge extends Metric {
  set(labels: Labels, value: number): void {
    this.add(labels, value, true);
  }

  inc(labels: Labels = {}, by = 1): void {
    this.add(labels, by, false);
  }

  dec(labels: Labels = {}, by = 1): void {
    this.add(labels, -by, false);
  }
}

/**
 * The metrics of one process, rendered in the Prometheus text exposition format (version 0.0.4).
 * Gauges that are cheaper to read than to track (free space, backlog) are filled in by collectors
 * just before each render.
 */
export class MetricsRegistry {
  private readonly metrics = new Map<string, Metric>();
  private readonly collectors = new Set<() => void | Promise<void>>();

  /** Registers (or returns the already registered) counter `name`. */
  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.register(name, () => new Counter(name, help, labelNames, "counter"), "counter");
  }

  /** Registers (or returns the already registered) gauge `name`. */
  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.register(name, () => new Gauge(name, help, labelNames, "gauge"), "gauge");
  }

  /** Runs `collect` before every render; returns a function that removes it. */
  onCollect(collect: () => void | Promise<void>): () => void {
    this.collectors.add(collect);
    return () => this.collectors.delete(collect);
  }

  /** Every sample, after running the collectors. */
  async samples(): Promise<Sample[]> {
    await this.collect();
    return [...this.metrics.values()].flatMap((metric) => metric.samples());
  }

  /** The text exposition format. */
  async render(): Promise<string> {
    await this.collect();
    let text = "";
    for (const metric of this.metrics.values()) {
      text += `# HELP ${metric.name} ${escapeHelp(metric.help)}\n# TYPE ${metric.name} ${metric.type}\n`;
      for (const sample of metric.samples()) text += `${formatSample(sample)}\n`;
    }
    return text;
  }

  private async collect(): Promise<void> {
    for (const collect of this.collectors) await collect();
  }

  private register<T extends Metric>(name: string, make: () => T, type: MetricType): T {
    const existing = this.metrics.get(name);
    if (existing) {
      if (existing.type !== type)
        throw new DaemonError("bad-metric", `${name} is already a ${existing.type}`);
      return existing as T;
    }
    const metric = make();
    this.metrics.set(name, metric);
    return metric;
  }
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(value);
}

function formatSample({ name, labels, value }: Sample): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return `${name}${pairs.length ? `{${pairs.join(",")}}` : ""} ${formatValue(value)}`;
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL_PAIR = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/gy;

/**
 * Reads samples back from the text exposition format (what `status` commands do with a running
 * process's endpoint). Comments and lines it cannot read are skipped.
 */
export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const match = SAMPLE_LINE.exec(line);
    if (!match) continue;
    const labels: Labels = {};
    const body = match[2] ?? "";
    LABEL_PAIR.lastIndex = 0;
    let pair: RegExpExecArray | null;
    let read = 0;
    // biome-ignore lint/suspicious/noAssignInExpressions: the sticky regex walks the label list
    while ((pair = LABEL_PAIR.exec(body)) !== null) {
      labels[pair[1]!] = pair[2]!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
      read = LABEL_PAIR.lastIndex;
    }
    if (read !== body.length) continue;
    const valueText = match[3]!;
    const value =
      valueText === "+Inf"
        ? Number.POSITIVE_INFINITY
        : valueText === "-Inf"
          ? Number.NEGATIVE_INFINITY
          : Number(valueText);
    samples.push({ name: match[1]!, labels, value });
  }
  return samples;
}

/** The sum of the samples named `name` whose labels include `labels` (0 when none): what a status line shows. */
export function sampleSum(samples: readonly Sample[], name: string, labels: Labels = {}): number {
  let sum = 0;
  for (const s of samples) {
    if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  }
  return sum;
}

/** Bytes for a human: "12.3 MiB" or "1.2 GiB". */
export function formatSize(bytes: number): string {
  return bytes >= 1024 ** 3
    ? `${(bytes / 1024 ** 3).toFixed(1)} GiB`
    : `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}
