export type { RunConfig, StatusCommandOptions } from "./cli-kit.js";
export {
  checkConfigCommand,
  jsonSchemaOf,
  loadRunConfig,
  schemaCommand,
  statusCommand,
} from "./cli-kit.js";
export { LogSettings, metricsSettings } from "./config-fields.js";
export type { ConfigErrorDetail, ConfigErrorReason, ConfigProblem } from "./config-file.js";
export {
  ConfigError,
  formatProblem,
  jsonPath,
  loadConfigFile,
  parseConfig,
  parseJsonText,
  problemsOf,
} from "./config-file.js";
export type { ReferenceRow } from "./config-reference.js";
export { configReference, referenceRows } from "./config-reference.js";
export type { DaemonErrorReason } from "./errors.js";
export { DaemonError } from "./errors.js";
export type { LogFields, LoggerOptions, LogLevel } from "./logger.js";
export { Logger, silentLogger } from "./logger.js";
export type { Labels, MetricType, Sample } from "./metrics.js";
export { Counter, formatSize, Gauge, MetricsRegistry, parseMetrics, sampleSum } from "./metrics.js";
export type { MetricsServer } from "./metrics-server.js";
export { fetchMetricsText, parseListenAddress, serveMetrics } from "./metrics-server.js";
export type { CliApp, Command } from "./run-cli.js";
export { runCli, UsageError } from "./run-cli.js";
export type { Daemon, DaemonConfig, DaemonSpec } from "./run-daemon.js";
export { runDaemon } from "./run-daemon.js";
