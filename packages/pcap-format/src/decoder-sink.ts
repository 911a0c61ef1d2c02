import type { InterfaceInfo, SectionInfo } from "./types.js";
import type { ReadWarning } from "./warnings.js";

/**
 * Receives what a decoder finds, without a per-packet allocation. `buf` is a chunk given to the decoder or a
 * buffer the decoder made for a record that spanned chunks; the decoder never writes into a buffer after it
 * has handed out a packet from it, so views stay valid as long as the caller leaves its chunk alone.
 */
export interface DecoderSink {
  /**
   * One packet: captured bytes are `buf[dataOffset, dataOffset + capturedLength)`. `recordOffset` is where
   * the record's 16-byte classic pcap header starts in `buf` when the record is exactly what a version 2.4
   * file in the input's byte order would hold, so it can be copied as it is; otherwise -1 (pcapng, and
   * classic records read differently from their bytes: cut to the snaplen, lengths swapped by an old
   * version, Kuznetsov headers). `inputOffset` is where the record or block starts in the whole input.
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
    inputOffset: number,
  ): void;
  /** A classic file header or pcapng section header was read. */
  section?(info: SectionInfo): void;
  /** An interface was described (classic header or pcapng IDB), before any of its packets. */
  interface?(info: InterfaceInfo): void;
  /** The next packet raised a warning; `inputOffset` is where its record or block starts. */
  warning?(warning: ReadWarning, inputOffset: number): void;
  /**
   * Optional fast path for a sink that handles records in bulk (native code, say): offered the bytes
   * `buf[offset, end)` from a record boundary, it takes the plain records that begin there (see
   * PlainRecords: whole records the decoder would hand to packet() without a warning or an error) and
   * returns the offset after the last one it took, or `offset` when it took none. Records it takes get
   * no packet() call: the sink reads their lengths and bytes itself, and does without their time stamps.
   * The decoder goes on with the record at the returned offset, which packet() then gets as usual.
   */
  records?: ((buf: Uint8Array, offset: number, end: number, layout: PlainRecords) => number) | undefined;
}

/**
 * Which records at a boundary are plain, so a sink's `records` may take them without the decoder's
 * checks, stopping at the first one that is not (the decoder reads that one itself: it may warn, fail,
 * or need bytes from the next chunk). All fields are in the input's byte order (`littleEndian`).
 * - `pcap`: a 16-byte header (seconds, fraction, captured length, original length) and the captured
 *   bytes, all within `end`; captured length at most `maxCapturedLength` and at most the original length;
 *   fraction below `fractionLimit`.
 * - `pcapng`: an Enhanced Packet Block (type 6) whose total length is a multiple of 4, at least 32 and at
 *   most `maxBlockLength`, lies within `end` and is repeated in its trailer; its captured length (at +20)
 *   fits the block (28 + length + padding to 4 ≤ total − 4), is at most the original length (at +24) and at
 *   most `maxCapturedLength`, and its interface (at +8) is below `interfaceSnaplens.length` with a captured
 *   length at most that interface's entry. The bytes are at +28.
 */
export type PlainRecords =
  | {
      readonly format: "pcap";
      readonly littleEndian: boolean;
      readonly maxCapturedLength: number;
      readonly fractionLimit: number;
    }
  | {
      readonly format: "pcapng";
      readonly littleEndian: boolean;
      readonly maxBlockLength: number;
      readonly maxCapturedLength: number;
      readonly interfaceSnaplens: readonly number[];
    };

/** Limits that keep hostile input from costing memory. */
export interface DecoderLimits {
  /**
   * Largest captured length accepted in a record, or null (the default) for libpcap's limit of the link
   * type: 262144, or 1 MiB (USBPcap), 8 MiB (EBHSCR), 128 MiB (D-Bus).
   */
  maxCaptureLength: number | null;
  /** Largest pcapng block that is buffered to be parsed (default 16 MiB, libpcap's); skipped blocks may be any size. */
  maxBlockLength: number;
}

/** Where a format decoder reports warnings: CaptureDecoder counts them and tells the sink. */
export type WarningReporter = (warning: ReadWarning, inputOffset: number) => void;

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
