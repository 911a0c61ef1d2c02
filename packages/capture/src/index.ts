export type { ChildConfig, ChildOutputConfig } from "./child-protocol.js";
export type { ChildContext, HandleStats, MakeOutput, PacketOutput } from "./child-runtime.js";
export type { HandoverCounts } from "./cutover.js";
export type { CaptureErrorReason } from "./errors.js";
export { CaptureError } from "./errors.js";
export type { Direction, InterfaceSourceEvents, InterfaceSourceOptions } from "./interface-source.js";
export { InterfaceSource } from "./interface-source.js";
export type { FanoutMode, FanoutOptions, LiveOptions, PacketIoMode } from "./live-handle.js";
export { compileFilter, interfaceLinkType, netnsExists } from "./preflight.js";
export type {
  ConnectionEnd,
  SocketConnection,
  SocketSourceEvents,
  SocketSourceOptions,
  SocketTlsOptions,
} from "./socket-source.js";
export { SocketSource } from "./socket-source.js";
export type { CaptureStats, SourcePacket } from "./source.js";
export type { VxlanSourceOptions } from "./vxlan-source.js";
export { VxlanSource } from "./vxlan-source.js";
