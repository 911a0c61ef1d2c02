import { SluiceError } from "@sluice/pcap-format";

/** Why the daemon kit refused something: a metric or an address that makes no sense. */
export type DaemonErrorReason =
  /** A metric or label name Prometheus does not allow, a missing label, a counter going down. */
  | "bad-metric"
  /** An option out of range or of the wrong kind (a listen address); `detail.option` names it. */
  | "bad-option";

/** The error this package throws outside config files (those are ConfigError). */
export class DaemonError extends SluiceError<DaemonErrorReason> {
  static readonly errorCode = "ERR_DAEMON";
  readonly code = "ERR_DAEMON" as const;
}
