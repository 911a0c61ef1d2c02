export { cleanupStaleLabs } from "./cleanup.js";
export type {
  CaptureOptions,
  CaptureStats,
  Endpoint,
  HttpOptions,
  LabCapture,
  LabCaptureOptions,
  LabOptions,
  PingOptions,
  UdpOptions,
} from "./lab.js";
export { createLab, Lab, labUnavailableReason, makeLabCapture, withLab } from "./lab.js";
export type { CapinfosSummary, TsharkFrame } from "./oracles.js";
export {
  capinfos,
  editcap,
  hasTool,
  mergecap,
  missingTools,
  randpkt,
  tool,
  tsharkCount,
  tsharkFrames,
} from "./oracles.js";
export type { LabProcess } from "./processes.js";
