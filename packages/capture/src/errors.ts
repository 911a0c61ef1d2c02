import { SluiceError } from "@sluice/pcap-format";

/** Why a capture could not start or stopped: a small closed set to branch on. */
export type CaptureErrorReason =
  /** The BPF filter does not compile; `detail.filter` holds its text, the message libpcap's words. */
  | "bad-filter"
  /** The interface does not exist; `detail.available` lists those that do. */
  | "no-such-interface"
  /** The interface exists but is down. */
  | "interface-down"
  /** Capturing needs CAP_NET_RAW (and CAP_NET_ADMIN for promiscuous mode); or the user to switch to is unknown. */
  | "permission-denied"
  /** An option out of range or of the wrong kind; `detail.option` names it. */
  | "bad-option"
  /** libpcap refused to open the interface for another reason. */
  | "open-failed"
  /** The packet-io addon was required (packetIo "native", or fanout workers) but cannot be used. */
  | "packet-io-unavailable"
  /** The capture child process ended without being asked to. */
  | "child-exited"
  /** Creating or checking the VXLAN interface failed. */
  | "vxlan-failed"
  /** The socket source could not listen. */
  | "listen-failed";

/**
 * The error this package throws: literal `code`, a `reason` to branch on, and what it concerns (`detail`:
 * the filter text, the interface and those available, the option name).
 */
export class CaptureError extends SluiceError<CaptureErrorReason> {
  static readonly errorCode = "ERR_CAPTURE";
  readonly code = "ERR_CAPTURE" as const;

  constructor(
    reason: CaptureErrorReason,
    message: string,
    detail: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(reason, message, detail, options);
    this.name = "CaptureError";
  }

  /** Rebuilds an error sent as JSON by a child process. */
  static fromJSON(value: {
    reason: CaptureErrorReason;
    message: string;
    detail?: Record<string, unknown>;
  }): CaptureError {
    return new CaptureError(value.reason, value.message, value.detail ?? {});
  }
}
