import { open } from "node:fs/promises";

/** fsyncs a file's data and metadata: after this resolves its bytes survive a power cut. */
export async function syncFile(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * fsyncs a folder, so that the names created, renamed or removed in it survive a power cut: a file is
 * durable only once both it and the folder entry naming it are.
 */
export async function syncDirectory(dir: string): Promise<void> {
  await syncFile(dir);
}
