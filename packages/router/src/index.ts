// The routing library: create a Router and submit files; FolderSource turns an inbox into submissions.
// Staging, publishing, health checks, strategies and the journal are internal (the journal's format is not
// part of the API).
export type { Destination, DestinationOptions, ReadyMode } from "./destination.js";
export type { RouterErrorDetail, RouterErrorReason } from "./errors.js";
export { RouterError } from "./errors.js";
export type { FolderSourceEvents, FolderSourceOptions, IngestedFile, RejectedFile } from "./folder-source.js";
export { FolderSource } from "./folder-source.js";
export type { DestinationHealth, HealthReason } from "./health.js";
export type { HeartbeatCheck } from "./liveness.js";
export type { DeliveredEvent, RouterEvents, RouterOptions } from "./router.js";
export { Router } from "./router.js";
export type {
  AfterDispatch,
  Pool,
  PoolOptions,
  ResolvedRouting,
  RoutingOptions,
  SpoolQuota,
} from "./routing-options.js";
export type { PoolStrategy } from "./strategy.js";
