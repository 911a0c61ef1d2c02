import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { labPrefix } from "./lab-names.js";
import { runQuietly, runSync } from "./processes.js";

/**
 * True when `name` is an executable on the PATH.
 * Checked before use so a missing tool is reported by name rather than as a spawn error.
 */
export function commandExists(name: string): boolean {
  for (const dir of (process.env["PATH"] ?? "").split(delimiter)) {
    if (dir === "") continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {}
  }
  return false;
}

let cached: { reason: string | null } | null = null;

/**
 * Null when this machine can run the lab, otherwise what it needs, e.g. "root (uid 1000) for network
 * namespaces"; tests use it to skip with a reason (the phrase reads after "needs").
 */
export function labUnavailableReason(): string | null {
  cached ??= { reason: probe() };
  return cached.reason;
}

function probe(): string | null {
  const uid = process.getuid?.() ?? -1;
  if (uid !== 0) return `root (uid ${uid}) for network namespaces and veth pairs`;
  for (const tool of ["ip", "tcpdump", "ethtool"]) {
    if (!commandExists(tool)) return `${tool} (not found on PATH; run make setup)`;
  }
  // Root is not always enough (a container without CAP_SYS_ADMIN): try the real thing once.
  const netns = `${labPrefix(process.pid, 0)}a`;
  try {
    runSync("ip", ["netns", "add", netns]);
  } catch (error) {
    return `a working \`ip netns add\` (${(error as Error).message})`;
  } finally {
    runQuietly("ip", ["netns", "del", netns]);
  }
  return null;
}
