import type { Socket } from "node:net";

/** Set by the lab when it gives a traffic program a stdin pipe that stays open while the lab lives. */
export const LIFELINE_ENV = "SLUICE_LAB_LIFELINE";

/**
 * Ends this traffic program when the lab's process goes away (its stdin pipe closes).
 * A SIGKILLed test runner cannot clean up; this way its HTTP servers and senders do not outlive it.
 */
export function exitWithParent(): void {
  // Run by hand (stdin a terminal or /dev/null), there is no lifeline to watch.
  if (process.env[LIFELINE_ENV] !== "1") return;
  const stdin = process.stdin as NodeJS.ReadStream & Partial<Socket>;
  stdin.on("end", () => process.exit(0));
  stdin.on("error", () => process.exit(0));
  stdin.resume();
  // The lifeline must not keep a finished program alive.
  stdin.unref?.();
}
