import { lstat, mkdir, readlink, symlink, unlink } from "node:fs/promises";
import { basename, join } from "node:path";
import { errnoOf, SpoolError, unlessMissing } from "./errors.js";
import { syncDirectory } from "./fsync.js";
import {
  conflictError,
  hiddenName,
  linkNew,
  linkUnsupported,
  numberedName,
  type OnConflict,
  publishFile,
  sameCopy,
  stageCopy,
} from "./publish.js";
import { writeFileAtomic } from "./write-file.js";

/** Options of moveFile. */
export interface MoveOptions {
  /** What a clash at the final name does (default: the next numbered name, `x-1.pcap`). */
  onConflict?: OnConflict;
  /**
   * Across file systems the copy and the destination folder are always fsynced before the source is removed
   * (nothing else orders the two). On one file system the link and the unlink go through the same journal
   * in order, so a crash cannot lose both names; `fsync: true` also fsyncs the folder there, for a caller
   * that needs the new name itself durable at once (default false).
   */
  fsync?: boolean;
}

/**
 * Moves `from` into `dir` as `name` and returns the path it got, or null when `from` is gone already (a
 * restart after the move). The rule is the one every Sluice mover follows: **never replace a file**. On
 * one file system the file is hard-linked in, then unlinked from where it was (the file system's journal
 * keeps the two in order); across file systems it is copied to a hidden name in `dir`, fsynced, published
 * without replacing, the folder fsynced, and only then removed from where it was. A crash at any point leaves the file in at least one of the two places, whole; a restart finishes
 * the move instead of making a second copy. A symlink is moved as the link itself, never followed.
 */
export async function moveFile(
  from: string,
  dir: string,
  name = basename(from),
  options: MoveOptions = {},
): Promise<string | null> {
  const onConflict = options.onConflict ?? ((n: number) => numberedName(name, n));
  const fsync = options.fsync ?? false;
  const info = await unlessMissing(lstat(from));
  if (info === null) return null;
  try {
    await mkdir(dir, { recursive: true });
    let candidate = name;
    for (let attempt = 1; ; attempt++) {
      try {
        if (await linkNew(from, join(dir, candidate))) break;
      } catch (error) {
        if (!linkUnsupported(error)) throw error;
        return await moveAcross(from, dir, name, info.isSymbolicLink(), onConflict);
      }
      if (onConflict === "fail") throw conflictError(dir, name);
      candidate = onConflict(attempt);
    }
    if (fsync) await syncDirectory(dir);
    await unlessMissing(unlink(from));
    return join(dir, candidate);
  } catch (error) {
    throw SpoolError.from(error, from, `moving to ${dir}:`);
  }
}

async function moveAcross(
  from: string,
  dir: string,
  name: string,
  isLink: boolean,
  onConflict: OnConflict,
): Promise<string> {
  const staged = join(dir, hiddenName(name, "moving"));
  let published: string;
  if (isLink) {
    await unlessMissing(unlink(staged));
    await symlink(await readlink(from), staged);
    published = await publishFile(staged, dir, name, { onConflict });
  } else {
    const [source, there] = await Promise.all([lstat(from), unlessMissing(lstat(join(dir, name)))]);
    // A copy published before a crash cut the move short: copies keep the source's size and mtime.
    if (there !== null && sameCopy(there, source)) {
      published = name;
    } else {
      await stageCopy(from, staged, false);
      published = await publishFile(staged, dir, name, { onConflict });
    }
  }
  await unlink(from);
  return join(dir, published);
}

/** Deletes `path`; false when it was already gone. */
export async function removeFile(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (error) {
    if (errnoOf(error) === "ENOENT") return false;
    throw SpoolError.from(error, path, "removing");
  }
}

/** True when something (a file, folder or link) is at `path`; other errors than ENOENT pass. */
export async function pathExists(path: string): Promise<boolean> {
  return (await unlessMissing(lstat(path))) !== null;
}

/**
 * Sets a file aside in `dir` (moveFile: never replacing a file there, a clash takes the next numbered
 * name) with `<name>.reason.json` beside it saying why, for the operator. Returns where it went, or null
 * when the file was gone already.
 */
export async function setAside(
  path: string,
  dir: string,
  reason: (movedTo: string) => Record<string, unknown>,
): Promise<string | null> {
  const movedTo = await moveFile(path, dir);
  if (movedTo !== null) {
    await writeFileAtomic(`${movedTo}.reason.json`, `${JSON.stringify(reason(movedTo), null, 2)}\n`);
  }
  return movedTo;
}
