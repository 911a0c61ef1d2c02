import { SluiceError } from "@sluice/pcap-format";

/** Why decoding or splitting could not start. */
export type DecodeErrorReason =
  /** An option out of range or of the wrong kind (flow key, node list, parts); `detail.option` names it. */
  "bad-option";

/** The error this package throws for bad options (bad capture bytes are @sluice/pcap-format's errors). */
export class DecodeError extends SluiceError<DecodeErrorReason> {
  static readonly errorCode = "ERR_DECODE";
  readonly code = "ERR_DECODE" as const;
}

/** A DecodeError "bad-option" naming `option`. */
export function badOption(option: string, message: string): DecodeError {
  return new DecodeError("bad-option", message, { option });
}
