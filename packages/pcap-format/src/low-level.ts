// @sluice/pcap-format/low-level: the pieces under readPackets and PcapWriter, for code that decodes
// without an object per packet (a capture stream on a socket, the replayer's feed, flow split) or writes
// derived captures as convert does. The main entry is the pcapgo shape; this one may change faster.
export type { ByteSource, ChunkOptions } from "./byte-source.js";
export { readChunks } from "./byte-source.js";
export type { CaptureDecoderOptions } from "./capture-decoder.js";
export { CaptureDecoder } from "./capture-decoder.js";
export { PCAP_FILE_HEADER_LENGTH, PCAP_RECORD_HEADER_LENGTH } from "./constants.js";
export { classicSnaplen, temporaryPathFor } from "./convert.js";
export type { DecoderLimits, DecoderSink, PlainRecords } from "./decoder-sink.js";
export type { TimestampResolution } from "./timestamp.js";
export { precisionOf } from "./timestamp.js";
export type { CaptureFormat, Endianness, InterfaceInfo, SectionInfo } from "./types.js";
export type { ReadWarning, ReadWarnings } from "./warnings.js";
