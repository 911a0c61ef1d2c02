import { SluiceError } from "@sluice/pcap-format";
import type { FileReplayStats } from "./stats.js";

/** Why a replay could not start or a file could not be replayed: a small closed set to branch on. */
export type ReplayErrorReason =
  /** An option out of range or of the wrong kind; `detail.option` names it. */
  | "bad-option"
  /** The output interface does not exist (in the given namespace). */
  | "no-such-interface"
  /** The interface is down and stayed down through the retries. */
  | "interface-down"
  /** Injecting needs CAP_NET_RAW; creating the FIFO needs write access to its folder. */
  | "permission-denied"
  /** libpcap's inject kept failing through the retries. */
  | "inject-failed"
  /** The file's link type cannot be sent on the output's link type. */
  | "unsupported-linktype"
  /** The file is not a readable pcap/pcapng capture; `detail.offset` says where it broke. */
  | "bad-file"
  /** The FIFO could not be created or written. */
  | "fifo-failed"
  /** stop() or the caller's AbortSignal interrupted the replay at a record boundary. */
  | "stopped";

/**
 * True when the file itself cannot be replayed (malformed, or a link type the output cannot carry): set it
 * aside. Any other failure but "stopped" and "bad-option" is the output's: keep the file and retry later.
 */
export function isFileFault(reason: ReplayErrorReason): reason is "bad-file" | "unsupported-linktype" {
  return reason === "bad-file" || reason === "unsupported-linktype";
}

/** The error this package throws: literal `code`, a `reason` to branch on, what was sent so far. */
export class ReplayError extends SluiceError<ReplayErrorReason> {
  static readonly errorCode = "ERR_SLUICE_REPLAY";
  readonly code = "ERR_SLUICE_REPLAY" as const;
  /** What was replayed of the file before the error, when a file was being replayed. */
  readonly stats?: FileReplayStats;

  constructor(
    reason: ReplayErrorReason,
    message: string,
    detail: Record<string, unknown> = {},
    options?: { cause?: unknown; stats?: FileReplayStats },
  ) {
    super(reason, message, detail, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ReplayError";
    if (options?.stats !== undefined) this.stats = options.stats;
  }

  /** The same error carrying the stats of the file it interrupted. */
  withStats(stats: FileReplayStats): ReplayError {
    return new ReplayError(this.reason, this.message, { ...this.detail }, { cause: this.cause, stats });
  }

  /** Rebuilds an error sent as JSON by a child process. */
  static fromJSON(value: {
    reason: ReplayErrorReason;
    message: string;
    detail?: Record<string, unknown>;
  }): ReplayError {
    return new ReplayError(value.reason, value.message, value.detail ?? {});
  }
}
