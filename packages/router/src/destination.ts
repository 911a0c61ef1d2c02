import { mkdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import { pathExists, publishFile, stageCopy } from "@sluice/spool";
import { RouterError } from "./errors.js";
import type { HeartbeatCheck } from "./liveness.js";

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
  /** How to tell that the node behind the folder is alive; unhealthy (`node-down`) when it is not. */
  heartbeat?: HeartbeatCheck;
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
  /** How its node is known to be alive, or null when it is not checked. */
  heartbeat: HeartbeatCheck | null;
}

/** Hidden folder inside each destination where files are staged before they are published. */
export const STAGING_DIR = ".sluice-staging";

/** Where `name` is staged in `dir`. */
export function stagingPath(dir: string, name: string): string {
  return join(dir, STAGING_DIR, `${name}.partial`);
}

/** How far a delivery got, read off the destination folder. */
export type DeliveryProgress = "published" | "staged" | "absent";

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
  try {
    await mkdir(join(dir, STAGING_DIR)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "EEXIST") throw error;
    });
    return await stageCopy(source, stagingPath(dir, name), allowLink);
  } catch (error) {
    throw RouterError.from(error, "destination", `staging ${name} in ${dir}`, dir);
  }
}

/**
 * Makes a staged file visible under its final name, never replacing a file already there, and fsyncs
 * the folder. A final name that already holds this very file (a restart after a crash mid-publish) counts
 * as published; a different file there is a `conflict`.
 */
export async function publish(dir: string, name: string, mode: ReadyMode): Promise<void> {
  try {
    await publishFile(stagingPath(dir, name), dir, name, { mode });
  } catch (error) {
    throw RouterError.from(error, "destination", `publishing ${name} in ${dir}`, dir);
  }
}

/** Reads how far the delivery of `name` to `dir` got (for recovery after a crash). */
export async function progress(dir: string, name: string): Promise<DeliveryProgress> {
  const [final, staged] = await Promise.all([
    pathExists(join(dir, name)),
    pathExists(stagingPath(dir, name)),
  ]);
  // A staged file means the publish has not happened or was cut short (close-write links before it
  // unlinks the staged name); publishing again finishes it, or reports a foreign file as a conflict.
  if (staged) return "staged";
  return final ? "published" : "absent";
}

/** Removes a staged file left behind (best effort). */
export async function discardStaged(dir: string, name: string): Promise<void> {
  await unlink(stagingPath(dir, name)).catch(() => {});
}
