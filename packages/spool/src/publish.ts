import { constants, type Stats } from "node:fs";
import { copyFile, link, lstat, open, rename, unlink, utimes } from "node:fs/promises";
import { join } from "node:path";
import { errnoOf, SpoolError, unlessMissing } from "./errors.js";
import { syncDirectory } from "./fsync.js";

/**
 * What to do when the final name already holds another file. Sluice never replaces a file: either the
 * publish fails with a SpoolError of reason "conflict", or the function names the next name to try
 * (`attempt` counts from 1; see numberedName).
 */
export type OnConflict = "fail" | ((attempt: number) => string);

/**
 * How a staged file becomes visible under its final name.
 * - `link`: hard-linked under the final name, then the staged name is removed (inotify: IN_CREATE).
 * - `rename`: renamed into place, for consumers that wait for IN_MOVED_TO. rename(2) cannot refuse to
 *   replace, so the final name is checked first: only a file created in the instant between the check and
 *   the rename could be replaced.
 * - `close-write`: linked like `link`, then opened for writing and closed, so inotify reports
 *   IN_CLOSE_WRITE on a file that is already whole (what Arkime's `--monitor` waits for).
 */
export type PublishMode = "link" | "rename" | "close-write";

/** Options of publishFile. */
export interface PublishOptions {
  /** Default "link". */
  mode?: PublishMode;
  /** Default "fail". */
  onConflict?: OnConflict;
  /** fsync the folder once the name is in place (default true). */
  fsync?: boolean;
}

/** `x.pcap` → `x-1.pcap`, `x-2.pcap`: the names tried after a clash, keeping the extension last. */
export function numberedName(name: string, attempt: number): string {
  const dot = name.indexOf(".", 1);
  return dot === -1 ? `${name}-${attempt}` : `${name.slice(0, dot)}-${attempt}${name.slice(dot)}`;
}

/** The hidden name a file is prepared under before it is published: `.name.partial`. */
export function hiddenName(name: string, tag = "partial"): string {
  return `.${name}.${tag}`;
}

/** True when `copy` is a copy made by stageCopy of `source`: same size, same modification time. */
export function sameCopy(copy: Stats, source: Stats): boolean {
  // utimes keeps microseconds at best: a copy's time may differ below the millisecond.
  return copy.size === source.size && Math.abs(copy.mtimeMs - source.mtimeMs) < 1;
}

/** True when two stats describe one file (a name already linked to it by an earlier, interrupted run). */
export function sameFile(a: Stats, b: Stats): boolean {
  return a.ino === b.ino && a.dev === b.dev;
}

/**
 * Makes the staged file `staged` visible as `dir/name`, never replacing another file, then fsyncs the
 * folder. A final name that already holds this very file (a restart after a crash mid-publish) counts as
 * published. Returns the name used.
 */
export async function publishFile(
  staged: string,
  dir: string,
  name: string,
  options: PublishOptions = {},
): Promise<string> {
  const mode = options.mode ?? "link";
  const onConflict = options.onConflict ?? "fail";
  for (let attempt = 0, candidate = name; ; candidate = nextName(onConflict, dir, name, ++attempt)) {
    const target = join(dir, candidate);
    try {
      if (mode === "rename") {
        if ((await unlessMissing(lstat(target))) !== null) continue;
        await rename(staged, target);
      } else {
        if (!(await linkNew(staged, target))) continue;
        // Opened for writing and closed: inotify says IN_CLOSE_WRITE, on a file that is already whole.
        if (mode === "close-write") await (await open(target, "r+")).close();
        await unlink(staged);
      }
      if (options.fsync ?? true) await syncDirectory(dir);
      return candidate;
    } catch (error) {
      throw SpoolError.from(error, target, `publishing ${staged} as`);
    }
  }
}

/**
 * Links `from` as `to` without replacing anything: true when `to` now names `from` (also when it already
 * did), false when `to` holds another file.
 */
export async function linkNew(from: string, to: string): Promise<boolean> {
  try {
    await link(from, to);
    return true;
  } catch (error) {
    if (errnoOf(error) !== "EEXIST") throw error;
    const [a, b] = await Promise.all([lstat(from), unlessMissing(lstat(to))]);
    return b !== null && sameFile(a, b);
  }
}

/** The error of a final name that holds another file. */
export function conflictError(dir: string, name: string): SpoolError {
  return new SpoolError("conflict", `${dir} already has a different ${name}; not replacing it`, {
    path: join(dir, name),
  });
}

function nextName(onConflict: OnConflict, dir: string, name: string, attempt: number): string {
  if (onConflict === "fail") throw conflictError(dir, name);
  if (attempt > 10_000) throw new SpoolError("io", `no free name for ${name} in ${dir}`, { path: dir });
  return onConflict(attempt);
}

const LINK_UNSUPPORTED = new Set(["EXDEV", "EPERM", "ENOTSUP", "EOPNOTSUPP", "EMLINK", "ENOSYS"]);

/** True for the errors of a hard link that cannot be made here (another file system, no links). */
export function linkUnsupported(error: unknown): boolean {
  return LINK_UNSUPPORTED.has(errnoOf(error));
}

/**
 * Puts a complete, fsynced copy of `source` at `staged` (a hidden name): a hard link when `allowLink` and
 * the file system allow it, otherwise a copy (a reflink where the file system can clone) that keeps the
 * source's modification time, so a later run can recognise its own copy. Returns how.
 */
export async function stageCopy(
  source: string,
  staged: string,
  allowLink: boolean,
): Promise<"link" | "copy"> {
  try {
    await unlessMissing(unlink(staged));
    if (allowLink) {
      try {
        await link(source, staged);
        return "link";
      } catch (error) {
        if (!linkUnsupported(error)) throw error;
      }
    }
    await copyFile(source, staged, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
    const { atimeMs, mtimeMs } = await lstat(source);
    await utimes(staged, atimeMs / 1000, mtimeMs / 1000);
    const handle = await open(staged, "r+");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    return "copy";
  } catch (error) {
    await unlink(staged).catch(() => {});
    throw SpoolError.from(error, staged, `staging ${source} as`);
  }
}
