import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { DirectoryLock, type LockHolder } from "./directory-lock.js";
import { SpoolError } from "./errors.js";
import { scratch } from "./testing/scratch.js";

const CHILD = fileURLToPath(new URL("./testing/lock-child.mjs", import.meta.url));
const built = existsSync(fileURLToPath(new URL("../dist/index.js", import.meta.url)));
if (!built) console.warn("skipping the lock tests with child processes: build @sluice/spool first");

const removers: (() => void)[] = [];
const children: ChildProcessWithoutNullStreams[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
  for (const remove of removers.splice(0)) remove();
});

function dir(): string {
  const made = scratch("sluice-lock-");
  removers.push(made.remove);
  return made.dir;
}

interface Outcome {
  child: ChildProcessWithoutNullStreams;
  /** "held" with the child's pid, or "refused" with the error's JSON. */
  line: string;
}

// Starts a lock child and resolves once it says whether it holds the lock.
function lockChild(at: string, owner = "test"): Promise<Outcome> {
  const child = spawn(process.execPath, [CHILD, at, owner], { stdio: ["pipe", "pipe", "pipe"] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    child.stderr.on("data", (d) => {
      err += d;
    });
    child.stdout.on("data", (d) => {
      out += d;
      if (out.includes("\n")) resolve({ child, line: out.trim() });
    });
    child.on("exit", (code) => {
      if (!out.includes("\n")) reject(new Error(`lock child exited ${code}: ${err}`));
    });
  });
}

const exited = (child: ChildProcessWithoutNullStreams) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.on("exit", (code) => resolve(code));
  });

const lockFiles = (at: string) => readdirSync(at).filter((n) => n.startsWith(".sluice-lock."));

describe.skipIf(!built)("DirectoryLock across processes", () => {
  it("refuses a second process, naming the holder's pid, and exits it non-zero", async () => {
    const at = dir();
    const first = await lockChild(at, "first");
    expect(first.line).toBe(`held ${first.child.pid}`);
    const second = await lockChild(at, "second");
    expect(second.line.startsWith("refused ")).toBe(true);
    const error = JSON.parse(second.line.slice("refused ".length));
    expect(error).toMatchObject({ code: "ERR_SPOOL", reason: "locked", detail: { pid: first.child.pid } });
    expect(error.message).toContain(`pid ${first.child.pid}`);
    expect(await exited(second.child)).toBe(2);
    // The holder is untouched: still the only live record.
    expect((await DirectoryLock.holder(at))?.pid).toBe(first.child.pid);
  });

  it("takes over the lock of a holder killed with SIGKILL", async () => {
    const at = dir();
    const first = await lockChild(at);
    first.child.kill("SIGKILL");
    await exited(first.child);
    expect(await DirectoryLock.holder(at)).toBeNull();
    const lock = await DirectoryLock.acquire(at, { owner: "next" });
    expect((await DirectoryLock.holder(at))?.pid).toBe(process.pid);
    // The dead holder's file is gone; only ours is left.
    expect(lockFiles(at)).toEqual([".sluice-lock.2"]);
    await lock.release();
  });

  it("lets exactly one of several starters racing for a stale lock win; the others name it", async () => {
    const at = dir();
    const dead = await lockChild(at);
    dead.child.kill("SIGKILL");
    await exited(dead.child);
    for (let round = 0; round < 3; round++) {
      const outcomes = await Promise.all(Array.from({ length: 6 }, () => lockChild(at)));
      const winners = outcomes.filter((o) => o.line.startsWith("held "));
      expect(winners).toHaveLength(1);
      const winner = winners[0]!.child.pid;
      for (const loser of outcomes.filter((o) => o.line.startsWith("refused "))) {
        expect(JSON.parse(loser.line.slice(8)).detail.pid).toBe(winner);
      }
      expect((await DirectoryLock.holder(at))?.pid).toBe(winner);
      // Kill the winner: the next round races for its stale lock.
      winners[0]!.child.kill("SIGKILL");
      await exited(winners[0]!.child);
    }
  });
});

describe("DirectoryLock", () => {
  it("refuses a second acquire in the same process with a typed error", async () => {
    const at = dir();
    const lock = await DirectoryLock.acquire(at, { owner: "sluice-master run" });
    const refused = await DirectoryLock.acquire(at, { owner: "again" }).catch((e: unknown) => e);
    expect(SpoolError.isInstance(refused)).toBe(true);
    expect(refused).toMatchObject({ reason: "locked", detail: { pid: process.pid, path: at } });
    expect((refused as Error).message).toContain(`locked by sluice-master run (pid ${process.pid}`);
    await lock.release();
  });

  it("tells a process that must not share the folder with the holder, without taking the lock", async () => {
    const at = dir();
    await DirectoryLock.ensureFree(at);
    const lock = await DirectoryLock.acquire(at, { owner: "sluice-master run" });
    const refused = await DirectoryLock.ensureFree(at).catch((e: unknown) => e);
    expect(refused).toMatchObject({ reason: "locked", detail: { pid: process.pid } });
    await lock.release();
    await DirectoryLock.ensureFree(at);
  });

  it("is free again once released, and the next holder takes a higher generation", async () => {
    const at = dir();
    const first = await DirectoryLock.acquire(at, { owner: "a" });
    await first.release();
    expect(await DirectoryLock.holder(at)).toBeNull();
    const second = await DirectoryLock.acquire(at, { owner: "b" });
    expect(lockFiles(at)).toEqual([".sluice-lock.2"]);
    expect(JSON.parse(readFileSync(second.path, "utf8")).owner).toBe("b");
    await second.release();
  });

  it("does not let a reused pid keep a lock: a live pid with another start time is stale", async () => {
    const at = dir();
    // Our own pid, alive, but recorded with a start time this process does not have.
    const stale: LockHolder = {
      pid: process.pid,
      startTime: "1",
      bootId: null,
      host: (await import("node:os")).hostname(),
      owner: "gone",
      since: new Date(0).toISOString(),
      nonce: "0",
    };
    writeFileSync(join(at, ".sluice-lock.7"), JSON.stringify(stale));
    const lock = await DirectoryLock.acquire(at, { owner: "new" });
    expect(lock.path).toBe(join(at, ".sluice-lock.8"));
    expect(lockFiles(at)).toEqual([".sluice-lock.8"]);
    await lock.release();
  });

  it("takes over a lock from an earlier boot whatever its pid", async () => {
    const at = dir();
    const lock = await DirectoryLock.acquire(at, { owner: "old" });
    const record = JSON.parse(readFileSync(lock.path, "utf8"));
    writeFileSync(lock.path, JSON.stringify({ ...record, bootId: "another-boot" }));
    const next = await DirectoryLock.acquire(at, { owner: "new" });
    expect(next.path).toBe(join(at, ".sluice-lock.2"));
    await next.release();
  });
});
