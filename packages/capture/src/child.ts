// @sluice/capture/child: the runtime of a capture child process, for outputs that run inside it (the
// rotator's): low-level, kept out of the package's main entry.
export type { ChildConfig, ChildOutputConfig } from "./child-protocol.js";
export type { ChildContext, HandleStats, MakeOutput, PacketOutput } from "./child-runtime.js";
export { runCaptureChild } from "./child-runtime.js";
export type { CaptureErrorReason } from "./errors.js";
export { CaptureError } from "./errors.js";
export type { FanoutMode, FanoutOptions, LiveOptions, PacketIoMode } from "./live-handle.js";
