import { copyFile, lstat, mkdir, open, readlink, rename, symlink, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** Moves `from` into `dir` under `name`, also across filesystems (copy, fsync, then unlink). */
export async function moveInto(from: string, dir: string, name: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const to = join(dir, name);
  try {
    await rename(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EXDEV") throw error;
    if ((await lstat(from)).isSymbolicLink()) {
      // Never followed: the link itself is recreated, not what it points to.
      await symlink(await readlink(from), to);
      await unlink(from);
      return to;
    }
    const temp = join(dir, `.${name}.tmp`);
    await copyFile(from, temp);
    const handle = await open(temp, "r");
    await handle.sync();
    await handle.close();
    await rename(temp, to);
    await unlink(from);
  }
  return to;
}

/** Deletes `path`; a file already gone is fine. */
export async function unlinkIfThere(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
}

/** Moves `from` into `dir` if it exists; false when there was nothing to move. */
export async function moveIfThere(from: string, dir: string, name: string): Promise<boolean> {
  try {
    await moveInto(from, dir, name);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
}

/** Writes `<dir>/<name>.reason.json`: why a file was set aside, for the operator. */
export async function writeReason(dir: string, name: string, reason: Record<string, unknown>): Promise<void> {
  await writeFile(join(dir, `${name}.reason.json`), `${JSON.stringify(reason, null, 2)}\n`);
}
