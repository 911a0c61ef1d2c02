import { spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { STAGING_DIR } from "./destination.js";
import { Router, type RouterOptions } from "./router.js";
import type { RoutingOptions } from "./routing-options.js";
import { makeSpoolFiles, scratch, visible } from "./testing/spool-files.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function lab(folders: string[]) {
  const { dir, remove } = scratch();
  cleanups.push(remove);
  const spool = join(dir, "spool");
  mkdirSync(spool);
  for (const folder of folders) mkdirSync(join(dir, folder), { recursive: true });
  return { dir, spool, at: (name: string) => join(dir, name) };
}

function start(options: RouterOptions): Router {
  const router = new Router({ healthIntervalMs: 50, retry: { initialMs: 20, maxMs: 200 }, ...options });
  cleanups.push(() => router.stop(5000));
  return router;
}

async function routeAll(router: Router, paths: string[]): Promise<void> {
  for (const path of paths) await router.submit(path);
  await router.idle();
}

describe("Router", () => {
  it("balances a pool by round robin within one file and gives every alone consumer every file", async () => {
    const l = lab(["n1", "n2", "n3", "arkime", "storage"]);
    const files = makeSpoolFiles(l.spool, 31);
    const router = start({
      journalDir: l.at("journal"),
      pools: [{ name: "sensors", nodes: ["n1", "n2", "n3"].map((n) => ({ name: n, path: l.at(n) })) }],
      alone: [
        { name: "arkime", path: l.at("arkime") },
        { name: "storage", path: l.at("storage") },
      ],
    });
    await router.start();
    await routeAll(
      router,
      files.map((f) => f.path),
    );
    const counts = ["n1", "n2", "n3"].map((n) => visible(l.at(n)).length);
    expect(counts.reduce((a, b) => a + b)).toBe(31);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    for (const consumer of ["arkime", "storage"])
      expect(visible(l.at(consumer))).toEqual(files.map((f) => f.name));
    for (const file of files) {
      const node = ["n1", "n2", "n3"].find((n) => existsSync(join(l.at(n), file.name)))!;
      expect(readFileSync(join(l.at(node), file.name)).equals(file.content)).toBe(true);
      expect(readFileSync(join(l.at("arkime"), file.name)).equals(file.content)).toBe(true);
    }
    expect(visible(l.spool)).toEqual([]);
  });

  it("sends each file to exactly one node of every pool", async () => {
    const l = lab(["s1", "s2", "z1", "z2", "z3"]);
    const files = makeSpoolFiles(l.spool, 12);
    const router = start({
      journalDir: l.at("journal"),
      pools: [
        { name: "suricata", nodes: ["s1", "s2"].map((n) => ({ name: n, path: l.at(n) })) },
        { name: "zeek", nodes: ["z1", "z2", "z3"].map((n) => ({ name: n, path: l.at(n) })) },
      ],
    });
    await router.start();
    await routeAll(
      router,
      files.map((f) => f.path),
    );
    for (const pool of [
      ["s1", "s2"],
      ["z1", "z2", "z3"],
    ]) {
      const seen = pool.flatMap((n) => visible(l.at(n)));
      expect(seen.sort()).toEqual(files.map((f) => f.name));
    }
  });

  it("keeps the spool file's sidecar with it and moves both after dispatch when asked", async () => {
    const l = lab(["n1", "done"]);
    const [file] = makeSpoolFiles(l.spool, 1);
    writeFileSync(`${file!.path}.json`, '{"event":"file-ready"}\n');
    const router = start({
      journalDir: l.at("journal"),
      pools: [{ name: "p", nodes: [{ name: "n1", path: l.at("n1") }] }],
      afterDispatch: { action: "move", path: l.at("done") },
    });
    await router.start();
    await routeAll(router, [file!.path]);
    expect(visible(l.spool)).toEqual([]);
    expect(visible(l.at("done"))).toEqual([file!.name, `${file!.name}.json`]);
    expect(visible(l.at("n1"))).toEqual([file!.name]);
  });

  it("gives least-backlog files to the node with the fewest waiting", async () => {
    const l = lab(["busy", "idle"]);
    for (let i = 0; i < 5; i++) writeFileSync(join(l.at("busy"), `old-${i}.pcap`), "x");
    const files = makeSpoolFiles(l.spool, 9);
    const router = start({
      journalDir: l.at("journal"),
      healthIntervalMs: 60_000,
      pools: [
        {
          name: "p",
          strategy: "least-backlog",
          nodes: [
            { name: "busy", path: l.at("busy") },
            { name: "idle", path: l.at("idle") },
          ],
        },
      ],
    });
    await router.start();
    await routeAll(
      router,
      files.map((f) => f.path),
    );
    // 5 to even out the backlogs, then alternating: idle ends with 7 files, busy with 5 + 2.
    expect(visible(l.at("idle"))).toHaveLength(7);
    expect(visible(l.at("busy"))).toHaveLength(7);
  });

  it("never shows a consumer a partial file: rename mode renames in, close-write mode closes a whole file", async () => {
    const l = lab(["renamed", "closed"]);
    const files = makeSpoolFiles(l.spool, 5, 400_000);
    const events = async (dir: string, kinds: string) => {
      const watcher = spawn("inotifywait", ["-m", "-e", kinds, "--format", "%e %f", dir]);
      let out = "";
      let err = "";
      watcher.stdout.on("data", (d) => {
        out += d;
      });
      cleanups.push(() => {
        watcher.kill();
      });
      // inotifywait says on stderr when its watch is in place; nothing before that would be seen.
      await new Promise<void>((resolve, reject) => {
        watcher.stderr.on("data", (d) => {
          err += d;
          if (err.includes("Watches established")) resolve();
        });
        watcher.on("exit", () => reject(new Error(`inotifywait: ${err}`)));
      });
      return {
        lines: () => out.trim().split("\n").filter(Boolean),
        // inotify reports a folder's events in order: once a marker written now is seen, so is everything
        // the router did before it.
        settle: async () => {
          writeFileSync(join(dir, ".sluice-test-marker"), "");
          await waitFor(() => out.includes(" .sluice-test-marker\n"));
        },
      };
    };
    const renamed = await events(l.at("renamed"), "moved_to,close_write,create");
    const closed = await events(l.at("closed"), "close_write");
    const router = start({
      journalDir: l.at("journal"),
      alone: [
        { name: "renamed", path: l.at("renamed"), link: false },
        { name: "closed", path: l.at("closed"), ready: "close-write", link: false },
      ],
    });
    await router.start();
    await routeAll(
      router,
      files.map((f) => f.path),
    );
    await renamed.settle();
    await closed.settle();
    expect(
      renamed
        .lines()
        .filter((l) => !l.includes(".sluice"))
        .sort(),
    ).toEqual(files.map((f) => `MOVED_TO ${f.name}`));
    expect(
      closed
        .lines()
        .filter((l) => !l.includes(".sluice"))
        .sort(),
    ).toEqual(files.map((f) => `CLOSE_WRITE,CLOSE ${f.name}`).sort());
    for (const f of files) expect(readFileSync(join(l.at("closed"), f.name)).equals(f.content)).toBe(true);
    expect(readdirSync(join(l.at("closed"), STAGING_DIR))).toEqual([]);
  });

  it("hard-links within one filesystem and copies when told not to link", async () => {
    const l = lab(["linked", "copied"]);
    const [file] = makeSpoolFiles(l.spool, 1);
    const inode = statSync(file!.path).ino;
    const delivered: string[] = [];
    const router = start({
      journalDir: l.at("journal"),
      alone: [
        { name: "linked", path: l.at("linked") },
        { name: "copied", path: l.at("copied"), link: false },
      ],
      afterDispatch: { action: "move", path: l.dir },
    });
    router.on("delivered", (e) => delivered.push(`${e.destination} ${e.method}`));
    await router.start();
    await routeAll(router, [file!.path]);
    expect(delivered.sort()).toEqual(["copied copy", "linked link"]);
    expect(statSync(join(l.at("linked"), file!.name)).ino).toBe(inode);
    expect(statSync(join(l.at("copied"), file!.name)).ino).not.toBe(inode);
  });

  it("skips a missing pool node and makes an alone consumer wait until its folder comes back", async () => {
    const l = lab(["n1", "n2", "arkime"]);
    rmSync(l.at("n2"), { recursive: true });
    rmSync(l.at("arkime"), { recursive: true });
    const files = makeSpoolFiles(l.spool, 6);
    const router = start({
      journalDir: l.at("journal"),
      pools: [{ name: "p", nodes: ["n1", "n2"].map((n) => ({ name: n, path: l.at(n) })) }],
      alone: [{ name: "arkime", path: l.at("arkime") }],
    });
    await router.start();
    for (const f of files) await router.submit(f.path);
    await waitFor(() => visible(l.at("n1")).length === 6);
    expect(router.pending().files).toBe(6);
    expect(existsSync(l.at("arkime"))).toBe(false); // never created by the router: it could be a lost mount
    mkdirSync(l.at("arkime"));
    await router.idle();
    expect(visible(l.at("arkime"))).toEqual(files.map((f) => f.name));
    expect(visible(l.spool)).toEqual([]);
  });

  it("waits with a file while no node of its pool is healthy, then delivers it", async () => {
    const l = lab([]);
    const files = makeSpoolFiles(l.spool, 3);
    const unavailable: string[] = [];
    const router = start({
      journalDir: l.at("journal"),
      pools: [{ name: "p", nodes: [{ name: "n1", path: l.at("n1") }] }],
    });
    router.on("pool-unavailable", (e) => unavailable.push(e.pool));
    await router.start();
    for (const f of files) await router.submit(f.path);
    // The event says the router looked at the pool and chose to wait: nothing can have been delivered.
    await waitFor(() => unavailable.length > 0);
    expect(unavailable).toEqual(["p"]);
    expect(visible(l.spool)).toHaveLength(3);
    mkdirSync(l.at("n1"));
    await router.idle();
    expect(visible(l.at("n1"))).toEqual(files.map((f) => f.name));
  });

  it("never replaces a different file already in a destination", async () => {
    const l = lab(["n1", "n2"]);
    const [file] = makeSpoolFiles(l.spool, 1);
    writeFileSync(join(l.at("n1"), file!.name), "someone else's file");
    const router = start({
      journalDir: l.at("journal"),
      pools: [{ name: "p", nodes: ["n1", "n2"].map((n) => ({ name: n, path: l.at(n) })) }],
    });
    const failures: string[] = [];
    router.on("delivery-failed", (e) => failures.push(`${e.destination} ${e.error.reason}`));
    await router.start();
    await routeAll(router, [file!.path]);
    expect(failures).toEqual(["n1 conflict"]);
    expect(readFileSync(join(l.at("n1"), file!.name), "utf8")).toBe("someone else's file");
    expect(readFileSync(join(l.at("n2"), file!.name)).equals(file!.content)).toBe(true);
  });

  it("drops the oldest undelivered files beyond the spool quota, and counts them", async () => {
    const l = lab([]);
    const files = makeSpoolFiles(l.spool, 8);
    const dropped: string[] = [];
    const router = start({
      journalDir: l.at("journal"),
      pools: [{ name: "p", nodes: [{ name: "n1", path: l.at("n1") }] }],
      quota: { files: 5 },
    });
    router.on("dropped", (e) => dropped.push(`${e.file} ${e.reason} ${e.missed.join(",")}`));
    await router.start();
    for (const f of files) await router.submit(f.path);
    await waitFor(() => dropped.length === 3);
    expect(dropped).toEqual(files.slice(0, 3).map((f) => `${f.name} quota pool:p`));
    expect(visible(l.spool)).toEqual(files.slice(3).map((f) => f.name));
    mkdirSync(l.at("n1"));
    await router.idle();
    expect(visible(l.at("n1"))).toEqual(files.slice(3).map((f) => f.name));
  });

  it("applies a new configuration: a node added and one removed, deliveries in flight unaffected", async () => {
    const l = lab(["n1", "n2", "n3"]);
    const files = makeSpoolFiles(l.spool, 12);
    const routing = (nodes: string[]): RoutingOptions => ({
      pools: [{ name: "p", nodes: nodes.map((n) => ({ name: n, path: l.at(n) })) }],
    });
    const router = start({ journalDir: l.at("journal"), ...routing(["n1", "n2"]) });
    await router.start();
    await routeAll(
      router,
      files.slice(0, 6).map((f) => f.path),
    );
    router.reconfigure(routing(["n2", "n3"]));
    await routeAll(
      router,
      files.slice(6).map((f) => f.path),
    );
    expect(visible(l.at("n1"))).toHaveLength(3);
    expect(visible(l.at("n2"))).toHaveLength(6);
    expect(visible(l.at("n3"))).toHaveLength(3);
  });

  it("resends a waiting file to the new pool when its node is removed while it waits", async () => {
    const l = lab(["n2"]);
    const [file] = makeSpoolFiles(l.spool, 1);
    const router = start({
      journalDir: l.at("journal"),
      pools: [{ name: "p", nodes: [{ name: "n1", path: l.at("n1") }] }],
    });
    const unavailable: string[] = [];
    router.on("pool-unavailable", (e) => unavailable.push(e.pool));
    await router.start();
    await router.submit(file!.path);
    await waitFor(() => unavailable.length > 0); // the file waits for n1, which does not exist
    router.reconfigure({ pools: [{ name: "p", nodes: [{ name: "n2", path: l.at("n2") }] }] });
    await router.idle();
    expect(visible(l.at("n2"))).toEqual([file!.name]);
  });

  it("refuses two destinations sharing a folder and duplicate names", () => {
    const l = lab([]);
    expect(
      () =>
        new Router({
          journalDir: l.at("j"),
          pools: [{ name: "p", nodes: [{ name: "a", path: l.at("x") }] }],
          alone: [{ name: "b", path: `${l.at("x")}/` }],
        }),
    ).toThrow(/share the folder/);
    expect(
      () =>
        new Router({
          journalDir: l.at("j"),
          pools: [{ name: "p", nodes: [{ name: "a", path: l.at("x") }] }],
          alone: [{ name: "a", path: l.at("y") }],
        }),
    ).toThrow(/used twice/);
  });

  it("resumes after a restart from what the journal says: nothing twice, nothing missed", async () => {
    const l = lab(["n1", "n2", "arkime"]);
    const files = makeSpoolFiles(l.spool, 6);
    const options = {
      journalDir: l.at("journal"),
      pools: [{ name: "p", nodes: ["n1", "n2"].map((n) => ({ name: n, path: l.at(n) })) }],
      alone: [{ name: "arkime", path: l.at("arkime") }],
    };
    // arkime is missing at first: every file stays pending for it.
    renameSync(l.at("arkime"), l.at("arkime-later"));
    const first = new Router(options);
    await first.start();
    for (const f of files) await first.submit(f.path);
    await waitFor(() => visible(l.at("n1")).length + visible(l.at("n2")).length === 6);
    await first.stop();
    renameSync(l.at("arkime-later"), l.at("arkime"));
    const second = start(options);
    await second.start();
    await second.idle();
    expect([...visible(l.at("n1")), ...visible(l.at("n2"))].sort()).toEqual(files.map((f) => f.name));
    expect(visible(l.at("arkime"))).toEqual(files.map((f) => f.name));
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}
