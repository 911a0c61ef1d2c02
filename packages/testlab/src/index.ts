export { labUnavailableReason } from "./availability.js";
export type { BrowserPage, TestBrowser } from "./browser.js";
export { browserUnavailableReason, CHROMIUM, ciOutput, openBrowser } from "./browser.js";
export type { CaptureHandle, CaptureOptions, CaptureStats } from "./capture.js";
export { cleanupStaleLabs } from "./cleanup.js";
export type { DaemonProcess } from "./daemon-process.js";
export { startDaemon } from "./daemon-process.js";
export type { LabFailureReason } from "./errors.js";
export { LabError } from "./errors.js";
export type { Endpoint, ExecOptions, LabOptions, Side } from "./lab.js";
export { createLab, Lab, withLab } from "./lab.js";
export type { LabCaptureOptions, LabCaptureResult } from "./make-lab-capture.js";
export { makeLabCapture } from "./make-lab-capture.js";
export type { CapinfosSummary, TsharkFrame } from "./oracles.js";
export {
  capinfos,
  editcap,
  hasTool,
  mergecap,
  missingTools,
  tool,
  tsharkCount,
  tsharkFrames,
  tsharkSessions,
} from "./oracles.js";
export type { RecordTime } from "./pacing.js";
export { gapErrorsUs, makePacedCapture, median, percentile, spread } from "./pacing.js";
export type { LabProcess } from "./processes.js";
export { randpkt } from "./randpkt.js";
export { seededBytes, seededRandom, testSeed } from "./seed.js";
export { parseSize } from "./size.js";
export type {
  HttpOptions,
  HttpResult,
  MixedOptions,
  MixedResult,
  PingOptions,
  PingResult,
  TrafficMix,
  UdpOptions,
  UdpResult,
} from "./traffic.js";
