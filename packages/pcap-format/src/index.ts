export type { ByteSource, ChunkOptions } from "./byte-source.js";
export { readChunks } from "./byte-source.js";
export type { CaptureDecoderOptions } from "./capture-decoder.js";
export { CaptureDecoder } from "./capture-decoder.js";
export {
  LinkType,
  MAX_CAPTURE_LENGTH,
  PCAP_FILE_HEADER_LENGTH,
  PCAP_RECORD_HEADER_LENGTH,
} from "./constants.js";
export type { ConvertOptions, ConvertResult } from "./convert.js";
export { classicSnaplen, convertCapture, temporaryPathFor } from "./convert.js";
export type { DecoderLimits, DecoderSink } from "./decoder-sink.js";
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
export { compareTimestamps, formatTimestamp, precisionOf } from "./timestamp.js";
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
