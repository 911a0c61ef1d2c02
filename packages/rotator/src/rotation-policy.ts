import { SpoolError } from "./errors.js";
/** When to start a new file; the first limit reached wins. */
export interface RotationPolicy {
  /** Wall-clock seconds per file (default 60); rotation happens on time also when no packet arrives. */
  seconds?: number;
  /** Start files on multiples of `seconds` (at :00, :01, ... for 60). */
  align?: boolean;
  /** Start a new file once the current one holds this many MiB. */
  mib?: number;
  /** Start a new file after this many packets. */
  packets?: number;
  /** Also write a file for an interval without packets (default false: Arkime's --monitor freezes on them). */
  keepEmpty?: boolean;
}

/** A policy with defaults filled in and checked. */
export interface ResolvedPolicy {
  intervalMs: number;
  align: boolean;
  maxBytes: number;
  maxPackets: number;
  keepEmpty: boolean;
}

function badPolicy(option: string, message: string): SpoolError {
  return new SpoolError("bad-option", message, { option: `policy.${option}` });
}

/** Checks a policy and fills in defaults; a bad value throws SpoolError "bad-option" naming it. */
export function resolvePolicy(policy: RotationPolicy = {}): ResolvedPolicy {
  const seconds = policy.seconds ?? 60;
  if (!(seconds > 0 && seconds <= 86_400 * 366))
    throw badPolicy("seconds", `rotation seconds must be > 0, not ${seconds}`);
  if (policy.mib !== undefined && !(policy.mib > 0))
    throw badPolicy("mib", `rotation mib must be > 0, not ${policy.mib}`);
  if (policy.packets !== undefined && !(Number.isInteger(policy.packets) && policy.packets > 0)) {
    throw badPolicy("packets", `rotation packets must be a positive integer, not ${policy.packets}`);
  }
  return {
    intervalMs: Math.round(seconds * 1000),
    align: policy.align ?? false,
    maxBytes: policy.mib === undefined ? Number.POSITIVE_INFINITY : Math.round(policy.mib * 1024 * 1024),
    maxPackets: policy.packets ?? Number.POSITIVE_INFINITY,
    keepEmpty: policy.keepEmpty ?? false,
  };
}

/** The first time boundary after `now`: on the interval grid when aligned, else `from` + k intervals. */
export function nextBoundary(now: number, from: number, policy: ResolvedPolicy): number {
  const interval = policy.intervalMs;
  if (policy.align) return (Math.floor(now / interval) + 1) * interval;
  const elapsed = Math.max(0, now - from);
  return from + (Math.floor(elapsed / interval) + 1) * interval;
}
