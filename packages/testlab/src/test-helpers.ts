import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

/**
 * Names `ip netns list` shows right now.
 * The observable the lifecycle tests assert on.
 */
export function listNamespaces(): string[] {
  const out = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout ?? "";
  return out
    .split("\n")
    .map((line) => line.split(" ")[0] ?? "")
    .filter(Boolean);
}

/**
 * Lab namespaces owned by `pid`.
 * Tests check none of theirs survive, without caring about other processes' labs.
 */
export function namespacesOf(pid: number): string[] {
  return listNamespaces().filter((name) => name.startsWith(`sl-${pid}-`));
}

/**
 * True while a process with this pid runs (a zombie waiting to be reaped counts as gone).
 * Used to check the lab killed what it started.
 */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/**
 * Waits until none of `pids` runs, for at most `ms`; true if they all ended.
 * Killed processes end a moment after the signal, not at once.
 */
export async function allEnded(pids: number[], ms = 3000): Promise<boolean> {
  const until = Date.now() + ms;
  while (pids.some(isRunning) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  return !pids.some(isRunning);
}

/**
 * Prints why lab tests are skipped, once per file.
 * A skipped suite should say so rather than pass silently.
 */
export function reportSkip(reason: string | null, what: string): void {
  if (reason !== null) console.warn(`skipping ${what}: the traffic lab needs ${reason}`);
}
