export type { RunConfig, StatusCommandOptions } from "./cli-kit.js";
export {
  checkConfigCommand,
  jsonSchemaOf,
  loadRunConfig,
  schemaCommand,
  statusCommand,
} from "./cli-kit.js";
export type { MetricsSettings } from "./config-fields.js";
export { LogSettings, metricsSettings } from "./config-fields.js";
export type {
  ConfigCheck,
  ConfigErrorDetail,
  ConfigErrorReason,
  ConfigProblem,
  ExaminedConfig,
} from "./config-file.js";
export {
  ConfigError,
  examineConfigFile,
  formatProblem,
  jsonPath,
  loadConfigFile,
  parseConfig,
  parseJsonText,
  problemsOf,
  readConfigJson,
} from "./config-file.js";
export type { ReferenceRow } from "./config-reference.js";
export { configReference, referenceRows } from "./config-reference.js";
export type { DaemonErrorReason } from "./errors.js";
export { DaemonError } from "./errors.js";
export type { MetricsAuth } from "./http-auth.js";
export { isLoopbackHost } from "./http-auth.js";
export type { LogFields, LoggerOptions, LogLevel } from "./logger.js";
export { Logger, silentLogger } from "./logger.js";
export { looseEntries, looseField, looseText } from "./loose-config.js";
export type { Labels, MetricType, Sample } from "./metrics.js";
export { Counter, formatSize, Gauge, MetricsRegistry, parseMetrics, sampleSum } from "./metrics.js";
export type { MetricsHistoryOptions, SeriesSelector } from "./metrics-history.js";
export { MetricsHistory } from "./metrics-history.js";
export type { FetchEndpointOptions, MetricsServer, MetricsServerOptions } from "./metrics-server.js";
export {
  endpointUrl,
  fetchMetricsText,
  fetchStatus,
  parseListenAddress,
  serveMetrics,
} from "./metrics-server.js";
export { RecentList } from "./recent-list.js";
export type { CliApp, Command } from "./run-cli.js";
export { runCli, UsageError } from "./run-cli.js";
export type { Daemon, DaemonConfig, DaemonSpec, DaemonStatus, StatusContext } from "./run-daemon.js";
export { runDaemon } from "./run-daemon.js";
export type { Column, Row, StatusKit, Tone } from "./status-kit.js";
export { statusKit } from "./status-kit.js";
export type { RenderedPage, StatusHeader, StatusPage } from "./status-page.js";
export { renderStatusPage } from "./status-page.js";
export type { Account } from "./system-checks.js";
export { folderWriteProblem, lookupUser } from "./system-checks.js";
