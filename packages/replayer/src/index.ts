export type { RetryPolicy, TimingSummary } from "./child-protocol.js";
export type { ReplayErrorReason } from "./errors.js";
export { isFileFault, ReplayError } from "./errors.js";
export type { ReplayerOptions, ReplayFileOptions, ReplayLogger, ReplayOutput } from "./replayer.js";
export { Replayer } from "./replayer.js";
export type { Speed } from "./speed.js";
export { formatSpeed, parseSpeed } from "./speed.js";
export type { FileReplayStats, ReplayerStats, ReplayProgress } from "./stats.js";
