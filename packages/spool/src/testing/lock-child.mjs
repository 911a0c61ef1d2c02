// A process that takes a folder's DirectoryLock, for the lock tests: prints `held <pid>` and keeps the lock
// until its stdin closes (then releases it and exits 0), or prints `refused <error JSON>` and exits 2.
// Usage: node lock-child.mjs DIR OWNER
import { DirectoryLock } from "@sluice/spool";

const [dir, owner] = process.argv.slice(2);
try {
  const lock = await DirectoryLock.acquire(dir, { owner });
  process.stdout.write(`held ${process.pid}\n`);
  process.stdin.resume();
  process.stdin.on("end", async () => {
    await lock.release();
    process.exit(0);
  });
} catch (error) {
  process.stdout.write(`refused ${JSON.stringify(error.toJSON ? error.toJSON() : String(error))}\n`);
  process.exit(2);
}
