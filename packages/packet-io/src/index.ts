export type { AddonStatus, PacketIoMode } from "./binding.js";
export { ADDON_ABI, loadAddon, packetIoMode } from "./binding.js";
export type {
  FanoutMode,
  NativeAddon,
  NativeCaptureHandle,
  NativeCaptureOptions,
  NativeCaptureStats,
  NativeError,
  NativeErrorReason,
  NativeInjectOptions,
  NativeInjectSocket,
  NativeInjectStats,
} from "./native.js";
export { RecordScanner } from "./scan.js";
