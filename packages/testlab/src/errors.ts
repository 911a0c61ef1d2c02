/**
 * Why the lab could not do what was asked: a small closed set to branch on instead of parsing messages.
 */
export type LabFailureReason =
  /** This machine cannot run the lab (not root, no `ip netns`, no tcpdump); see labUnavailableReason. */
  | "unavailable"
  /** Creating the namespaces, the veth pair, addresses or offload settings failed. */
  | "setup-failed"
  /** A command run inside a namespace failed or exited before it was ready. */
  | "command-failed"
  /** An optional tool a traffic generator needs (such as ping) is not installed. */
  | "tool-missing"
  /** tcpdump did not start, or did not exit cleanly with its counters. */
  | "capture-failed"
  /** The lab was used after destroy(). */
  | "destroyed"
  /** An option value the lab cannot honour (a bad size, count or range). */
  | "bad-option";

const marker = Symbol.for("@sluice/testlab/LabError");

/**
 * The one error the lab throws: a literal `code`, a `reason` to branch on and the underlying `cause`.
 * `isInstance` works across duplicate copies of the package.
 */
export class LabError extends Error {
  readonly code = "ERR_SLUICE_LAB" as const;
  readonly reason: LabFailureReason;
  readonly [marker] = true;

  constructor(reason: LabFailureReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "LabError";
    this.reason = reason;
  }

  /** True for a LabError from any copy of this package. */
  static isInstance(error: unknown): error is LabError {
    return typeof error === "object" && error !== null && marker in error;
  }
}
