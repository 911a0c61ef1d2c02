export type { SpoolErrorReason } from "./errors.js";
export { SpoolError } from "./errors.js";
export {
  compactUtc,
  DEFAULT_NAME_TEMPLATE,
  DEFAULT_WORKER_NAME_TEMPLATE,
  fileName,
  safeLabel,
} from "./file-name.js";
export type { FileDrops, FileManifest, FinishReason } from "./manifest.js";
export { manifestPath } from "./manifest.js";
export type { RotatingCaptureEvents, RotatingCaptureOptions } from "./rotating-capture.js";
export { RotatingCapture } from "./rotating-capture.js";
export type { RotationPolicy } from "./rotation-policy.js";
export type { RotatorEvents, RotatorOptions, RotatorStats } from "./rotator.js";
export { Rotator } from "./rotator.js";
export type { SalvageReport } from "./salvage.js";
export { salvageDirectory } from "./salvage.js";
