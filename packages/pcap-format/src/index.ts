// @sluice/pcap-format: open a reader and read records (readPackets), open a writer and write records
// (PcapWriter), verify, inspect and convert captures. Push decoding and other pieces under these are in
// @sluice/pcap-format/low-level.
export type { ByteSource, ChunkOptions } from "./byte-source.js";
export type { CaptureDecoderOptions } from "./capture-decoder.js";
export { LinkType, MAX_CAPTURE_LENGTH } from "./constants.js";
export type { ConvertOptions, ConvertResult } from "./convert.js";
export { convertCapture } from "./convert.js";
export type { DecoderLimits } from "./decoder-sink.js";
export type { PcapFormatErrorDetail, PcapFormatReason } from "./errors.js";
export { PcapFormatError } from "./errors.js";
export type { CaptureSummary, InspectOptions, VerifyResult } from "./inspect.js";
export { inspectCapture, verifyCapture } from "./inspect.js";
export type { AppendOptions, PacketInput, PcapWriterOptions, WriteTarget } from "./pcap-writer.js";
export { PcapWriter } from "./pcap-writer.js";
export type { Capture, ReadOptions } from "./read-packets.js";
export { PacketStream, readCaptureSync, readPackets } from "./read-packets.js";
export type { ErrorDetail, SluiceErrorJSON } from "./sluice-error.js";
export { SluiceError } from "./sluice-error.js";
export type { Timestamp, TimestampResolution } from "./timestamp.js";
export { compareTimestamps, formatTimestamp } from "./timestamp.js";
export type {
  CaptureFormat,
  Endianness,
  InterfaceInfo,
  PacketRecord,
  Precision,
  SectionInfo,
} from "./types.js";
export type { ReadWarning, ReadWarnings } from "./warnings.js";
export { READ_WARNINGS } from "./warnings.js";
