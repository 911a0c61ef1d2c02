import type { InterfaceInfo, SectionInfo } from "./types.js";

/**
 * Receives what a decoder finds, without a per-packet allocation. `buf` is a chunk given to the decoder or a
 * buffer the decoder made for a record that spanned chunks; the decoder never writes into a buffer after it
 * has handed out a packet from it, so views stay valid as long as the caller leaves its chunk alone.
 */
export interface DecoderSink {
  /**
   * One packet: captured bytes are `buf[dataOffset, dataOffset + capturedLength)`. `recordOffset` is where
   * the classic pcap record header starts in `buf` (the 16 bytes before the data), or -1 for pcapng.
   */
  packet(
    buf: Uint8Array,
    dataOffset: number,
    capturedLength: number,
    originalLength: number,
    seconds: number,
    nanoseconds: number,
    interfaceId: number,
    recordOffset: number,
  ): void;
  /** A classic file header or pcapng section header was read. */
  section?(info: SectionInfo): void;
  /** An interface was described (classic header or pcapng IDB), before any of its packets. */
  interface?(info: InterfaceInfo): void;
}

/** Limits that keep hostile input from costing memory. */
export interface DecoderLimits {
  /** Largest captured length accepted in a record (default 262144, libpcap's and Wireshark's limit). */
  maxCaptureLength: number;
  /** Largest pcapng block that is buffered to be parsed (default 1 MiB); skipped blocks may be any size. */
  maxBlockLength: number;
}

/** One container format's incremental parser, driven by CaptureDecoder. */
export interface FormatDecoder {
  /**
   * Bytes needed at `buf[off]` to make progress: a header size while the header is incomplete, then the
   * whole unit's size once its header is read and validated (this is where hostile lengths are refused).
   */
  needed(buf: Uint8Array, off: number, end: number, base: number): number;
  /**
   * Consumes every complete unit in `buf[off, end)` and returns the offset after them. Either it consumes
   * at least one byte or `needed()` reports more than is available.
   */
  run(buf: Uint8Array, off: number, end: number, base: number): number;
  /** The error for input that ends with `available` unconsumed bytes at absolute offset `base`. */
  truncation(base: number, available: number): import("./errors.js").PcapFormatError | null;
}
