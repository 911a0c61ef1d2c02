import { open, readdir, readFile, stat, statfs, unlink } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Destination } from "./destination.js";
import { Liveness } from "./liveness.js";

/** Why a destination is not taking files. */
export type HealthReason =
  /** The folder does not exist. */
  | "missing"
  /** The path is not a folder. */
  | "not-a-directory"
  /** The configured mount point is not mounted (files would land on the local disk). */
  | "not-mounted"
  /** A file cannot be created there (read-only, permissions). */
  | "unwritable"
  /** Less free space than the destination's minimum. */
  | "low-space"
  /** More files waiting there than its maximum backlog. */
  | "backlog"
  /** A delivery to it just failed; it is skipped until the next check. */
  | "failing"
  /** Its heartbeat (file or URL) is older than its maximum age: the node behind it is gone. */
  | "node-down";

/** What the last check of a destination found. */
export interface DestinationHealth {
  healthy: boolean;
  reason: HealthReason | null;
  /** What went wrong, for logs. */
  message: string | null;
  /** Free bytes for unprivileged users on its filesystem, when known. */
  freeBytes: number | null;
  /** Files waiting in the folder (not hidden), when known. */
  backlog: number | null;
  /** When it was checked (ms since the epoch). */
  checkedAt: number;
}

/**
 * Looks at a destination the way a delivery would meet it: folder, mount, the node's heartbeat (when one
 * is configured; `liveness` remembers the last sign of life), a test file, space, backlog.
 */
export async function checkDestination(
  dest: Destination,
  now = Date.now(),
  liveness: Liveness = new Liveness(),
): Promise<DestinationHealth> {
  const result = (reason: HealthReason | null, message: string | null, extra = {}): DestinationHealth => ({
    healthy: reason === null,
    reason,
    message,
    freeBytes: null,
    backlog: null,
    checkedAt: now,
    ...extra,
  });
  try {
    const info = await stat(dest.path);
    if (!info.isDirectory()) return result("not-a-directory", `${dest.path} is not a folder`);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return result("missing", `${dest.path} does not exist`);
    return result("unwritable", `${dest.path}: ${(error as Error).message}`);
  }
  if (dest.mount !== null && !(await isMountPoint(dest.mount))) {
    return result("not-mounted", `${dest.mount} is not mounted`);
  }
  if (dest.heartbeat !== null) {
    const down = await liveness.check(dest.name, dest.path, dest.heartbeat, now);
    if (down !== null) return result("node-down", down, { backlog: await countBacklog(dest.path) });
  }
  const probe = join(dest.path, `.sluice-probe-${process.pid}`);
  try {
    await (await open(probe, "w")).close();
    await unlink(probe);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === "ENOSPC" || code === "EDQUOT" ? "low-space" : "unwritable";
    return result(reason, `cannot create a file in ${dest.path}: ${(error as Error).message}`);
  }
  let freeBytes: number | null = null;
  try {
    const fs = await statfs(dest.path);
    freeBytes = fs.bavail * fs.bsize;
  } catch {
    // statfs is missing on some network filesystems: space is then judged by the writes themselves.
  }
  const backlog = await countBacklog(dest.path);
  if (freeBytes !== null && freeBytes < dest.minFreeBytes) {
    return result("low-space", `${freeBytes} bytes free in ${dest.path}, under ${dest.minFreeBytes}`, {
      freeBytes,
      backlog,
    });
  }
  if (dest.maxBacklog !== null && backlog !== null && backlog > dest.maxBacklog) {
    return result("backlog", `${backlog} files wait in ${dest.path}, over ${dest.maxBacklog}`, {
      freeBytes,
      backlog,
    });
  }
  return result(null, null, { freeBytes, backlog });
}

/** Files waiting in a folder: entries whose names do not start with a dot. */
export async function countBacklog(dir: string): Promise<number | null> {
  try {
    let count = 0;
    for (const entry of await readdir(dir)) if (!entry.startsWith(".")) count++;
    return count;
  } catch {
    return null;
  }
}

/** True when `path` is a mount point in this process's mount namespace. */
export async function isMountPoint(path: string): Promise<boolean> {
  const wanted = resolve(path);
  const text = await readFile("/proc/self/mountinfo", "utf8");
  for (const line of text.split("\n")) {
    const field = line.split(" ")[4];
    if (field === undefined) continue;
    // Mount points escape space, tab, newline and backslash as octal.
    const point = field.replace(/\\([0-7]{3})/g, (_, octal: string) =>
      String.fromCharCode(Number.parseInt(octal, 8)),
    );
    if (point === wanted) return true;
  }
  return false;
}

/**
 * Health of every destination, checked at most once per interval (and at once after a failure), so
 * picking a node costs nothing on the hot path.
 */
export class HealthMonitor {
  private readonly cache = new Map<string, DestinationHealth>();
  private readonly checking = new Map<string, Promise<DestinationHealth>>();
  private readonly liveness = new Liveness();

  constructor(
    private readonly intervalMs: number,
    /** Called when a destination turns healthy or unhealthy (not on its first check when healthy). */
    private readonly onChange: (name: string, health: DestinationHealth) => void = () => {},
  ) {}

  private store(name: string, health: DestinationHealth): void {
    const previous = this.cache.get(name);
    this.cache.set(name, health);
    if ((previous?.healthy ?? true) !== health.healthy) this.onChange(name, health);
  }

  /** The cached health when fresh, otherwise a new check. */
  async get(dest: Destination): Promise<DestinationHealth> {
    const cached = this.cache.get(dest.name);
    if (cached && Date.now() - cached.checkedAt < this.intervalMs) return cached;
    return this.check(dest);
  }

  /** The last known health without checking (null if never checked). */
  peek(name: string): DestinationHealth | null {
    return this.cache.get(name) ?? null;
  }

  /** Checks now (one check at a time per destination). */
  check(dest: Destination): Promise<DestinationHealth> {
    const running = this.checking.get(dest.name);
    if (running) return running;
    const promise = checkDestination(dest, Date.now(), this.liveness).then((health) => {
      this.store(dest.name, health);
      this.checking.delete(dest.name);
      return health;
    });
    this.checking.set(dest.name, promise);
    return promise;
  }

  /** Marks a destination failing until its next check, one interval from now. */
  markFailing(name: string, message: string): void {
    const previous = this.cache.get(name);
    this.store(name, {
      healthy: false,
      reason: "failing",
      message,
      freeBytes: previous?.freeBytes ?? null,
      backlog: previous?.backlog ?? null,
      checkedAt: Date.now(),
    });
  }

  /** Counts a file just delivered into the cached backlog, so least-backlog sees it before the next check. */
  noteDelivered(name: string): void {
    const cached = this.cache.get(name);
    if (cached?.backlog != null) cached.backlog++;
  }

  /** Forgets a destination that left the configuration. */
  forget(name: string): void {
    this.cache.delete(name);
    this.liveness.forget(name);
  }
}
