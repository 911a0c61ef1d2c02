export type { BackoffPolicy } from "./backoff.js";
export { Backoff, backoffDelay } from "./backoff.js";
export type { CaptureCheck } from "./capture-check.js";
export { checkCapture, readFirstRecordTime } from "./capture-check.js";
export type { Clock } from "./clock.js";
export { ManualClock, systemClock } from "./clock.js";
export type { DirectoryLockOptions, LockHolder } from "./directory-lock.js";
export { DirectoryLock } from "./directory-lock.js";
export type { SpoolErrorDetail, SpoolErrorReason } from "./errors.js";
export { SpoolError } from "./errors.js";
export type { EntryKind } from "./file-name.js";
export {
  compactUtc,
  DEFAULT_NAME_TEMPLATE,
  DEFAULT_WORKER_NAME_TEMPLATE,
  entryKind,
  fillNameTemplate,
  finalNameOf,
  nameTimeHint,
  parseDefaultName,
  safeLabel,
  sidecarOf,
  workerTemplate,
} from "./file-name.js";
export { syncDirectory, syncFile } from "./fsync.js";
export type { Heartbeat, HeartbeatWriterOptions } from "./heartbeat.js";
export { DEFAULT_HEARTBEAT_FILE, HeartbeatWriter, readHeartbeat } from "./heartbeat.js";
export type {
  IncomingFile,
  IncomingItem,
  IncomingQueueEvents,
  IncomingQueueOptions,
  IncomingTiming,
  RefusalReason,
} from "./incoming-queue.js";
export { captureStartMs, compareCaptureOrder, IncomingQueue } from "./incoming-queue.js";
export type { BadLine, JournalContents } from "./journal.js";
export { Journal } from "./journal.js";
export type { MoveOptions } from "./move.js";
export { moveFile, pathExists, removeFile, setAside } from "./move.js";
export type { CounterMetric, GaugeMetric, Labels, LogFields, Logger, Metrics } from "./observe.js";
export { silentLogger, silentMetrics } from "./observe.js";
export type { OnConflict, PublishMode, PublishOptions } from "./publish.js";
export { hiddenName, linkNew, numberedName, publishFile, sameFile, stageCopy } from "./publish.js";
export type { WriteFileOptions } from "./write-file.js";
export { writeFileAtomic } from "./write-file.js";
