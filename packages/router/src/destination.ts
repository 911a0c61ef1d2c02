import { constants } from "node:fs";
import { copyFile, link, lstat, mkdir, open, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { RouterError } from "./errors.js";

/**
 * How a file becomes visible in a destination.
 * - `rename`: bytes go to a hidden staging name, are fsynced, and the file is renamed to its final name:
 *   whoever lists the folder sees a whole file or nothing (inotify: IN_MOVED_TO).
 * - `close-write`: the whole, fsynced file is linked in under its final name and then opened for writing
 *   and closed, so inotify reports IN_CLOSE_WRITE on a complete file: what Arkime's `--monitor` waits for.
 */
export type ReadyMode = "rename" | "close-write";

/** A folder that receives files: a pool node or an alone consumer. */
export interface DestinationOptions {
  /** Unique among all pools' nodes and alone consumers. */
  name: string;
  /** The folder (usually an NFS mount of the node's incoming folder). */
  path: string;
  ready?: ReadyMode;
  /** Hard-link instead of copying when the spool and the folder share a filesystem (default true). */
  link?: boolean;
  /** Unhealthy when the folder's filesystem has less free space than this (default 256 MiB). */
  minFreeBytes?: number;
  /** Unhealthy when more files than this wait in the folder; null for no limit. */
  maxBacklog?: number | null;
  /** A mount point the folder must be on (e.g. the NFS mount): unhealthy when it is not mounted. */
  mount?: string;
}

/** A destination with its defaults filled in. */
export interface Destination {
  name: string;
  path: string;
  ready: ReadyMode;
  link: boolean;
  minFreeBytes: number;
  maxBacklog: number | null;
  mount: string | null;
}

/** Hidden folder inside each destination where files are staged before they are published. */
export const STAGING_DIR = ".sluice-staging";

/** Where `name` is staged in `dir`. */
export function stagingPath(dir: string, name: string): string {
  return join(dir, STAGING_DIR, `${name}.partial`);
}

/** How far a delivery got, read off the destination folder. */
export type DeliveryProgress = "published" | "staged" | "absent";

const LINK_UNSUPPORTED = new Set(["EXDEV", "EPERM", "ENOTSUP", "EOPNOTSUPP", "EMLINK", "ENOSYS"]);

/**
 * Puts a complete, fsynced copy of `source` under the staging name in `dir`: a hard link when allowed
 * and possible, otherwise a copy (a reflink where the filesystem can clone). Returns how.
 */
export async function stage(
  source: string,
  dir: string,
  name: string,
  allowLink: boolean,
): Promise<"link" | "copy"> {
  const temporary = stagingPath(dir, name);
  try {
    await mkdir(join(dir, STAGING_DIR)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "EEXIST") throw error;
    });
    await unlink(temporary).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "ENOENT") throw error;
    });
    if (allowLink) {
      try {
        await link(source, temporary);
        return "link";
      } catch (error) {
        if (!LINK_UNSUPPORTED.has((error as NodeJS.ErrnoException).code ?? "")) throw error;
      }
    }
    await copyFile(source, temporary, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
    const handle = await open(temporary, "r+");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    return "copy";
  } catch (error) {
    await unlink(temporary).catch(() => {});
    throw RouterError.from(error, "destination", `staging ${name} in ${dir}`, dir);
  }
}

/**
 * Makes a staged file visible under its final name, never replacing a file already there, and fsyncs
 * the folder. A final name that already holds this very file (a restart after a crash mid-publish) counts
 * as published; a different file there is a `conflict`.
 */
export async function publish(dir: string, name: string, mode: ReadyMode): Promise<void> {
  const temporary = stagingPath(dir, name);
  const target = join(dir, name);
  try {
    if (mode === "rename") {
      const existing = await lstat(target).catch(() => null);
      if (existing !== null) throw conflict(dir, name);
      await rename(temporary, target);
    } else {
      try {
        await link(temporary, target);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        const [a, b] = await Promise.all([lstat(temporary), lstat(target)]);
        if (a.ino !== b.ino || a.dev !== b.dev) throw conflict(dir, name);
      }
      // Opened for writing and closed: inotify says IN_CLOSE_WRITE, on a file that is already whole.
      await (await open(target, "r+")).close();
      await unlink(temporary);
    }
    await syncDirectory(dir);
  } catch (error) {
    throw RouterError.from(error, "destination", `publishing ${name} in ${dir}`, dir);
  }
}

/** Reads how far the delivery of `name` to `dir` got (for recovery after a crash). */
export async function progress(dir: string, name: string): Promise<DeliveryProgress> {
  const [final, staged] = await Promise.all([
    lstat(join(dir, name)).catch(notFound),
    lstat(stagingPath(dir, name)).catch(notFound),
  ]);
  // A staged file means the publish has not happened or was cut short (close-write links before it
  // unlinks the staged name); publishing again finishes it, or reports a foreign file as a conflict.
  if (staged !== null) return "staged";
  return final !== null ? "published" : "absent";
}

/** Removes a staged file left behind (best effort). */
export async function discardStaged(dir: string, name: string): Promise<void> {
  await unlink(stagingPath(dir, name)).catch(() => {});
}

function notFound(error: NodeJS.ErrnoException): null {
  if (error.code === "ENOENT") return null;
  throw error;
}

function conflict(dir: string, name: string): RouterError {
  return new RouterError("conflict", `${dir} already has a different ${name}; not replacing it`, {
    path: join(dir, name),
  });
}

/** fsyncs a folder so the names in it survive a power cut. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
