import { open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { SpoolError } from "./errors.js";
import { syncDirectory } from "./fsync.js";
import { hiddenName, linkNew } from "./publish.js";

/** Options of writeFileAtomic. */
export interface WriteFileOptions {
  /**
   * Replace a file already at `path` (default true: a rename). False: keep it and resolve to false, the
   * new content published only if the name is free (a link).
   */
  replace?: boolean;
  /** fsync the file and its folder (default true). */
  fsync?: boolean;
}

/**
 * Writes `text` so that `path` shows either its old content or the whole new one, never a part: under a
 * hidden name first, fsynced, then renamed (or linked) into place. Resolves to false only when `replace`
 * is false and the name was taken.
 */
export async function writeFileAtomic(
  path: string,
  text: string | Uint8Array,
  options: WriteFileOptions = {},
): Promise<boolean> {
  const fsync = options.fsync ?? true;
  const dir = dirname(path);
  const temporary = join(dir, hiddenName(basename(path)));
  try {
    const handle = await open(temporary, "w");
    try {
      await handle.writeFile(text);
      if (fsync) await handle.sync();
    } finally {
      await handle.close();
    }
    let written = true;
    if (options.replace ?? true) await rename(temporary, path);
    else written = await linkNew(temporary, path);
    if (fsync) await syncDirectory(dir);
    return written;
  } catch (error) {
    throw SpoolError.from(error, path, "writing");
  } finally {
    await unlink(temporary).catch(() => {});
  }
}
