export type { DeliveryProgress, Destination, DestinationOptions, ReadyMode } from "./destination.js";
export { progress, publish, STAGING_DIR, stage, stagingPath } from "./destination.js";
export type { RouterErrorDetail, RouterErrorReason } from "./errors.js";
export { RouterError } from "./errors.js";
export type { FlowPart } from "./flow-split.js";
export { partName, splitByFlow } from "./flow-split.js";
export type { FolderSourceEvents, FolderSourceOptions, IngestedFile, RejectedFile } from "./folder-source.js";
export { FolderSource } from "./folder-source.js";
export type { DestinationHealth, HealthReason } from "./health.js";
export { checkDestination, countBacklog, isMountPoint } from "./health.js";
export type {
  DeliveryRecord,
  DeliveryState,
  FlowPartRecord,
  JournalFile,
  JournalRecord,
  JournalReplay,
} from "./journal.js";
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
export { DEFAULT_MIN_FREE_BYTES, DEFAULT_NODE_BACKLOG, resolveRouting } from "./routing-options.js";
export type { Candidate, PoolStrategy } from "./strategy.js";
export { pickNode } from "./strategy.js";
