/**
 * Why a capture could not be read past some byte. A small closed set so callers branch on it instead of
 * parsing messages.
 */
export type PcapFormatReason =
  /** The first bytes are not a pcap or pcapng magic number (or a pcapng byte-order magic is wrong). */
  | "bad-magic"
  /** A known magic with a format version this library does not read. */
  | "unsupported-version"
  /** The file (or section) header is incomplete; an empty file is the common case. */
  | "truncated-header"
  /** The last record or block is incomplete: typically a file that is still being written. */
  | "truncated-record"
  /** A pcapng packet's captured length is larger than its interface's snaplen (classic records are cut to it). */
  | "caplen-over-snaplen"
  /** A record's captured length is larger than libpcap allows for its link type (262144 for most). */
  | "caplen-over-max"
  /** No longer raised: libpcap reads such a record, and so do we, counting the `caplen-over-origlen` warning. */
  | "caplen-over-origlen"
  /** A pcapng block length that is too small, not a multiple of 4, or too small for what the block holds. */
  | "bad-block-length"
  /** A pcapng block whose trailing length does not repeat its leading length. */
  | "bad-block-trailer"
  /** A pcapng block that would have to be buffered and is larger than the configured limit. */
  | "block-too-large"
  /** A pcapng option that runs past the end of its block. */
  | "bad-option"
  /** A pcapng packet that names an interface no Interface Description Block defined. */
  | "unknown-interface"
  /** A packet whose timestamp cannot be written in the chosen output format. */
  | "timestamp-out-of-range"
  /** An existing file whose header does not match what the writer was asked to append. */
  | "header-mismatch"
  /** A conversion the output format cannot express (for example several link types into classic pcap). */
  | "unsupported-conversion";

const marker = Symbol.for("@sluice/pcap-format/PcapFormatError");

/**
 * The one error this package throws about capture bytes: a literal `code`, a `reason` to branch on and the
 * byte `offset` where the problem starts. `isInstance` works across duplicate copies of the package.
 */
export class PcapFormatError extends Error {
  readonly code = "ERR_PCAP_FORMAT" as const;
  readonly reason: PcapFormatReason;
  /** Absolute byte offset in the input (or output, for write errors) where the problem starts. */
  readonly offset: number;
  readonly [marker] = true;

  constructor(reason: PcapFormatReason, offset: number, message: string, options?: { cause?: unknown }) {
    super(`${message} (${reason} at byte ${offset})`, options);
    this.name = "PcapFormatError";
    this.reason = reason;
    this.offset = offset;
  }

  /** True for a PcapFormatError from any copy of this package. */
  static isInstance(error: unknown): error is PcapFormatError {
    return typeof error === "object" && error !== null && marker in error;
  }
}
