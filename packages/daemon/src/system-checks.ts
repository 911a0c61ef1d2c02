// Checks of a config against the machine it runs on, shared by the daemons' `check-config` and `run`.
import { spawnSync } from "node:child_process";
import { accessSync, constants, type Stats, statSync } from "node:fs";
import { dirname, resolve } from "node:path";

/** A system account, as `id` reports it (NSS included: LDAP, sssd). */
export interface Account {
  name: string;
  uid: number;
  gid: number;
  /** Every group id, the primary one included. */
  groups: number[];
}

/** The account named `name` (getpwnam, through `id`), or null when there is none. */
export function lookupUser(name: string): Account | null {
  const id = (flag: string) => spawnSync("id", [flag, "--", name], { encoding: "utf8" });
  const uid = id("-u");
  if (uid.status !== 0) return null;
  const gid = id("-g");
  const groups = id("-G");
  return {
    name,
    uid: Number(uid.stdout.trim()),
    gid: Number(gid.stdout.trim()),
    groups: groups.stdout.trim().split(/\s+/).filter(Boolean).map(Number),
  };
}

/**
 * Why `folder` cannot be written (or created) by `account` (default: this process), or null when it can.
 * A missing folder counts as creatable when its nearest existing parent can be written.
 */
export function folderWriteProblem(folder: string, account?: Account | null): string | null {
  let path = resolve(folder);
  let stats: Stats | null = null;
  for (;;) {
    try {
      stats = statSync(path);
      break;
    } catch {
      const parent = dirname(path);
      if (parent === path) return `no part of ${folder} exists`;
      path = parent;
    }
  }
  if (!stats.isDirectory()) {
    return path === resolve(folder) ? "is not a folder" : `${path} is not a folder`;
  }
  const where = path === resolve(folder) ? "" : `cannot be created: ${path} `;
  try {
    // The process's own view first: a read-only mount refuses root too.
    accessSync(path, constants.W_OK | constants.X_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "";
    if (code === "EROFS") return `${where}is on a read-only file system`;
    if (!account) return `${where}is not writable by this process (${code})`;
  }
  if (account && !canWrite(stats, account)) {
    const mode = (stats.mode & 0o777).toString(8);
    return `${where}is not writable by user ${account.name} (owner ${stats.uid}:${stats.gid}, mode ${mode})`;
  }
  return null;
}

function canWrite(stats: Stats, account: Account): boolean {
  if (account.uid === 0) return true;
  const bits =
    stats.uid === account.uid
      ? stats.mode >> 6
      : account.groups.includes(stats.gid)
        ? stats.mode >> 3
        : stats.mode;
  return (bits & 0o3) === 0o3;
}
