import { SluiceError, type SluiceErrorJSON } from "./sluice-error.js";

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
  | "unsupported-conversion"
  /** An argument out of range (snaplen, link type, chunk size); `detail.option` names it. */
  | "bad-argument";

/** What a PcapFormatError is about. */
export interface PcapFormatErrorDetail {
  /** Absolute byte offset in the input (or output, for write errors) where the problem starts. */
  offset: number;
  /** The argument refused (reason "bad-argument"). */
  option?: string;
  [key: string]: unknown;
}

/**
 * The one error this package throws about capture bytes: a literal `code`, a `reason` to branch on and the
 * byte `offset` where the problem starts. `isInstance` works across duplicate copies of the package.
 */
export class PcapFormatError extends SluiceError<PcapFormatReason, PcapFormatErrorDetail> {
  static readonly errorCode = "ERR_PCAP_FORMAT";
  readonly code = "ERR_PCAP_FORMAT" as const;
  /** Absolute byte offset in the input (or output, for write errors) where the problem starts. */
  readonly offset: number;

  /**
   * `(reason, message, { offset, ... }, { cause })`, the shape of every Sluice error; the older
   * `(reason, offset, message, { cause })` is still taken.
   */
  constructor(
    reason: PcapFormatReason,
    message: string,
    detail?: PcapFormatErrorDetail,
    options?: { cause?: unknown },
  );
  constructor(reason: PcapFormatReason, offset: number, message: string, options?: { cause?: unknown });
  constructor(
    reason: PcapFormatReason,
    a: string | number,
    b?: string | PcapFormatErrorDetail,
    options?: { cause?: unknown },
  ) {
    const detail: PcapFormatErrorDetail =
      typeof a === "number" ? { offset: a } : { offset: 0, ...(b as PcapFormatErrorDetail | undefined) };
    const message = typeof a === "number" ? (b as string) : a;
    super(reason, `${message} (${reason} at byte ${detail.offset})`, detail, options);
    this.name = "PcapFormatError";
    this.offset = detail.offset;
  }

  /** A plain object for JSON logs, with `offset` at the top as before. */
  override toJSON(): SluiceErrorJSON<PcapFormatReason> & { offset: number } {
    return { ...super.toJSON(), offset: this.offset };
  }
}
