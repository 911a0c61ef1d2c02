import type { ChildProcess } from "node:child_process";
import { spawnSync } from "node:child_process";
import { runQuietly } from "./processes.js";

/** Namespace names are `sluice-lab-<pid>-<n>-<a|b>`, so a later run can tell whose they are. */
export const NETNS_PREFIX = "sluice-lab-";
const NAME = /^sluice-lab-(\d+)-\d+-[ab]$/;

const namespaces = new Set<string>();
const children = new Set<ChildProcess>();
let handlersInstalled = false;

/** Records a namespace this process created, to be removed on exit even if the test never cleans up. */
export function ownNamespace(name: string): void {
  installHandlers();
  namespaces.add(name);
}

export function releaseNamespace(name: string): void {
  namespaces.delete(name);
}

export function ownChild(child: ChildProcess): void {
  installHandlers();
  children.add(child);
  child.once("exit", () => children.delete(child));
}

// Synchronous: 'exit' handlers cannot wait, and a signal may be the last thing this process sees.
function removeEverythingSync(): void {
  for (const child of children) child.kill("SIGKILL");
  children.clear();
  for (const name of namespaces) runQuietly("ip", ["netns", "del", name]);
  namespaces.clear();
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.once("exit", removeEverythingSync);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      removeEverythingSync();
      // Re-raise so the process still ends the way the signal asked (unless someone else handles it).
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Removes lab namespaces left behind by processes that no longer run; returns their names. */
export function cleanupStaleLabs(): string[] {
  const listing = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout ?? "";
  const removed: string[] = [];
  for (const line of listing.split("\n")) {
    const name = line.split(" ")[0] ?? "";
    const match = NAME.exec(name);
    if (!match) continue;
    const pid = Number(match[1]);
    if (pid === process.pid || alive(pid)) continue;
    // Processes still inside keep the namespace (and its veth) alive: kill them first.
    const pids = spawnSync("ip", ["netns", "pids", name], { encoding: "utf8" }).stdout ?? "";
    for (const p of pids.split("\n").filter(Boolean)) runQuietly("kill", ["-9", p]);
    runQuietly("ip", ["netns", "del", name]);
    removed.push(name);
  }
  return removed;
}
