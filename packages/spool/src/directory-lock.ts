import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { link, mkdir, open, readdir, readFile, unlink } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname, join, resolve } from "node:path";
import { errnoOf, SpoolError } from "./errors.js";
import { syncDirectory } from "./fsync.js";
import { writeFileAtomic } from "./write-file.js";

// A lock is a file `.sluice-lock.<generation>` in the folder, created whole with link(2) (so a reader never
// sees half of one and only one creator of a name wins). The holder is whoever wrote the highest
// generation. Release marks the file released rather than removing it, so generations only grow. A holder
// that died (SIGKILL, power cut) is taken over by creating the next generation: two
// starters racing for it cannot both win the link, and a slow starter that wins a lower, already cleaned
// up generation sees the higher one when it checks and backs off.
const PREFIX = ".sluice-lock.";

/** Who holds a folder's lock, as its lock file says. */
export interface LockHolder {
  /** The holder's process id. */
  pid: number;
  /** The holder's start time (field 22 of /proc/<pid>/stat, clock ticks since boot): tells pid reuse apart. */
  startTime: string | null;
  /** The kernel's boot id when the lock was taken: a lock from an earlier boot is stale whatever its pid. */
  bootId: string | null;
  host: string;
  /** What holds it (`sluice-master run`). */
  owner: string;
  /** When the lock was taken (ISO 8601). */
  since: string;
  /** Tells this holder's file from another with the same pid. */
  nonce: string;
  /** When the holder gave the lock up; absent while it holds it. */
  released?: string;
}

/** Options of DirectoryLock.acquire. */
export interface DirectoryLockOptions {
  /** What takes the lock, for the holder's record and for the refusal of a second starter. */
  owner: string;
}

/**
 * An exclusive lock on a folder (a master's spool, a node's state dir) held by this process: a second
 * process is refused with a SpoolError of reason "locked" naming the holder's pid. It survives SIGKILL of its
 * holder: a lock whose process is gone (checked by pid and start time, so a reused pid does not count) is
 * taken over, atomically. Same host only: the folder must not be shared between machines.
 */
export class DirectoryLock {
  private released = false;

  private constructor(
    /** The locked folder (absolute). */
    readonly dir: string,
    /** The lock file this process wrote. */
    readonly path: string,
    /** This process's record in it. */
    readonly holder: LockHolder,
  ) {}

  /**
   * Takes the lock on `dir` (created if missing), taking over one its holder left by dying. Throws a
   * SpoolError "locked" (detail: pid, owner, since) when a live process holds it.
   */
  static async acquire(dir: string, options: DirectoryLockOptions): Promise<DirectoryLock> {
    const folder = resolve(dir);
    try {
      await mkdir(folder, { recursive: true });
    } catch (error) {
      throw SpoolError.from(error, folder, "creating");
    }
    const holder = selfRecord(options.owner);
    const text = `${JSON.stringify(holder)}\n`;
    // Each round either wins, is refused by a live holder, or saw another starter win a generation first.
    for (let round = 0; round < 100; round++) {
      const current = await highest(folder);
      if (current !== null) {
        const record = await readHolder(join(folder, lockName(current)));
        if (record === "missing") continue;
        if (record !== null && isAlive(record)) throw lockedError(folder, record);
      }
      const generation = (current ?? 0) + 1;
      const path = join(folder, lockName(generation));
      if (!(await createWhole(path, text, holder.nonce))) continue;
      const after = await highest(folder);
      if (after !== generation) {
        // A generation above ours: we won a name someone already took over and cleaned up. Not ours.
        await unlink(path).catch(() => {});
        continue;
      }
      const lock = new DirectoryLock(folder, path, holder);
      await lock.removeOlder(generation);
      return lock;
    }
    throw new SpoolError("io", `could not take the lock on ${folder}: it changed hands 100 times`, {
      path: folder,
    });
  }

  /** Who holds the lock on `dir` now, or null when nobody alive does. */
  static async holder(dir: string): Promise<LockHolder | null> {
    const folder = resolve(dir);
    const current = await highest(folder).catch(() => null);
    if (current === null) return null;
    const record = await readHolder(join(folder, lockName(current)));
    return record !== null && record !== "missing" && isAlive(record) ? record : null;
  }

  /**
   * Throws the SpoolError "locked" a starter would get when a live process holds the lock on `dir`, without
   * taking it: for a process that may share the folder with its peers but not with the lock's holder.
   */
  static async ensureFree(dir: string): Promise<void> {
    const holder = await DirectoryLock.holder(dir);
    if (holder !== null) throw lockedError(resolve(dir), holder);
  }

  /**
   * Gives the lock up. Its file stays, marked released, so the next holder takes a higher generation than
   * any starter still on its way could. Idempotent.
   */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    const record = { ...this.holder, released: new Date().toISOString() };
    await writeFileAtomic(this.path, `${JSON.stringify(record)}\n`);
  }

  private async removeOlder(generation: number): Promise<void> {
    for (const n of await generations(this.dir)) {
      if (n < generation) await unlink(join(this.dir, lockName(n))).catch(() => {});
    }
  }
}

// Writes `text` under a name of this starter's own, fsyncs it and links it to `path`: false when `path` was
// taken. (writeFileAtomic's hidden name is the same for every writer of a path: racers would share it.)
async function createWhole(path: string, text: string, nonce: string): Promise<boolean> {
  const own = `${path}.${process.pid}.${nonce}.tmp`;
  try {
    const handle = await open(own, "wx");
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await link(own, path);
    } catch (error) {
      if (errnoOf(error) === "EEXIST") return false;
      throw error;
    }
    await syncDirectory(dirname(path));
    return true;
  } catch (error) {
    throw SpoolError.from(error, path, "taking the lock");
  } finally {
    await unlink(own).catch(() => {});
  }
}

function lockName(generation: number): string {
  return `${PREFIX}${generation}`;
}

async function generations(dir: string): Promise<number[]> {
  const names = await readdir(dir);
  return names
    .filter((n) => n.startsWith(PREFIX) && /^\d+$/.test(n.slice(PREFIX.length)))
    .map((n) => Number(n.slice(PREFIX.length)));
}

async function highest(dir: string): Promise<number | null> {
  const all = await generations(dir);
  return all.length === 0 ? null : Math.max(...all);
}

// The record in a lock file; null when it cannot be one of ours (a holder that cannot be named is no holder).
async function readHolder(path: string): Promise<LockHolder | null | "missing"> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if (errnoOf(error) === "ENOENT") return "missing";
    throw SpoolError.from(error, path, "reading the lock");
  }
  try {
    const record = JSON.parse(text) as LockHolder;
    return Number.isInteger(record.pid) && record.pid > 0 ? record : null;
  } catch {
    return null;
  }
}

function selfRecord(owner: string): LockHolder {
  return {
    pid: process.pid,
    startTime: startTimeOf(process.pid),
    bootId: bootId(),
    host: hostname(),
    owner,
    since: new Date().toISOString(),
    nonce: randomBytes(8).toString("hex"),
  };
}

/** Whether the process a lock record names still runs: same boot, same pid, same start time. */
function isAlive(record: LockHolder): boolean {
  if (record.released !== undefined) return false;
  // Another machine's holder cannot be checked from here: count it as alive rather than steal its folder.
  if (record.host !== hostname()) return true;
  if (record.bootId !== null && bootId() !== null && record.bootId !== bootId()) return false;
  const start = startTimeOf(record.pid);
  if (start === null) return !procAvailable() && pidExists(record.pid);
  return record.startTime === null || record.startTime === start;
}

function startTimeOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

function bootId(): string | null {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return null;
  }
}

function procAvailable(): boolean {
  return startTimeOf(process.pid) !== null;
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoOf(error) === "EPERM";
  }
}

function lockedError(dir: string, holder: LockHolder): SpoolError {
  return new SpoolError(
    "locked",
    `${dir} is locked by ${holder.owner} (pid ${holder.pid}, since ${holder.since}): stop that process first, or give this one another folder`,
    { path: dir, pid: holder.pid, owner: holder.owner, since: holder.since },
  );
}
