// The structural interfaces Sluice's libraries log and count through. Anything with these methods will do:
// @sluice/daemon's Logger and MetricsRegistry, a wrapper around pino or prom-client, or a test's array.

/** Fields of a log line besides its event name. */
export type LogFields = Record<string, unknown>;

/** Where a library logs: one stable `event` name per line, and fields. `debug` may be left out. */
export interface Logger {
  debug?(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
}

/** A logger that drops everything: the default of every library. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Label values of a metric series. */
export type Labels = Record<string, string>;

/** A monotonically increasing series (Prometheus counter). */
export interface CounterMetric {
  inc(labels?: Labels, by?: number): void;
  /** Forgets one series (a destination that left the configuration). */
  remove?(labels?: Labels): void;
}

/** A series that goes up and down (Prometheus gauge). */
export interface GaugeMetric {
  set(labels: Labels, value: number): void;
  /** Forgets one series (a destination that left the configuration). */
  remove?(labels?: Labels): void;
  /** Forgets every series. */
  reset(): void;
}

/** Where a library registers its series; `onCollect` runs before each scrape, to read gauges from state. */
export interface Metrics {
  counter(name: string, help: string, labelNames?: readonly string[]): CounterMetric;
  gauge(name: string, help: string, labelNames?: readonly string[]): GaugeMetric;
  onCollect(collect: () => void | Promise<void>): unknown;
}

const noSeries = { inc() {}, set() {}, remove() {}, reset() {} };

/** Metrics that go nowhere: the default of every library. */
export const silentMetrics: Metrics = {
  counter: () => noSeries,
  gauge: () => noSeries,
  onCollect: () => {},
};
