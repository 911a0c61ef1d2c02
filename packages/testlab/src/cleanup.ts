import type { ChildProcess } from "node:child_process";
import { namespaceOwner } from "./lab-names.js";
import { runCommand, runQuietly } from "./processes.js";

// What this process created and has not removed yet, so that exit and signal handlers can remove it even
// when a test never reaches destroy().
const namespaces = new Set<string>();
const children = new Set<ChildProcess>();
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
let handlersInstalled = false;

/**
 * Records a namespace this process created.
 * The exit and signal handlers remove it if the lab is never destroyed.
 */
export function ownNamespace(netns: string): void {
  installHandlers();
  namespaces.add(netns);
}

/**
 * Forgets a namespace after the lab removed it.
 * Keeps the handlers from deleting a name another process might reuse.
 */
export function disownNamespace(netns: string): void {
  namespaces.delete(netns);
}

/**
 * Records a child process until it exits.
 * The exit and signal handlers kill it if it is still running.
 */
export function ownChild(child: ChildProcess): void {
  installHandlers();
  children.add(child);
  child.once("close", () => children.delete(child));
}

// Synchronous: 'exit' handlers cannot wait, and a signal may be the last thing this process sees.
function removeOwnedSync(): void {
  for (const child of children) child.kill("SIGKILL");
  children.clear();
  // The veth ends live only inside the namespaces: deleting them removes the pair.
  for (const netns of namespaces) runQuietly("ip", ["netns", "del", netns]);
  namespaces.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  removeOwnedSync();
  // Listening made Node stop ending the process on this signal. If nobody else (vitest, an app) handles
  // it, step aside and re-raise so the process ends exactly as it would have without the lab.
  if (process.listenerCount(signal) === 1) {
    process.removeListener(signal, onSignal);
    process.kill(process.pid, signal);
  }
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on("exit", removeOwnedSync);
  for (const signal of SIGNALS) process.on(signal, onSignal);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes lab namespaces whose owning process no longer runs, killing what still runs inside them;
 * returns their names. Leftovers of a run that was SIGKILLed or crashed would otherwise stay forever.
 */
export async function cleanupStaleLabs(): Promise<string[]> {
  const listing = await runCommand("ip", ["netns", "list"]);
  const stale = listing
    .split("\n")
    .map((line) => line.split(" ")[0] ?? "")
    .filter((netns) => {
      const owner = namespaceOwner(netns);
      if (owner === null) return false;
      // Our pid but not ours: left by an earlier process that had the same pid.
      if (owner === process.pid) return !namespaces.has(netns);
      return !isAlive(owner);
    });
  await Promise.all(stale.map(removeStaleNamespace));
  return stale;
}

async function removeStaleNamespace(netns: string): Promise<void> {
  // A process still inside keeps the namespace, and its veth, alive after `ip netns del`.
  const pids = await runCommand("ip", ["netns", "pids", netns]).catch(() => "");
  for (const pid of pids.split("\n").filter(Boolean)) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {}
  }
  await runCommand("ip", ["netns", "del", netns]).catch(() => {});
}
