import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { routerFixtures } from "./testing/router-fixtures.js";
import { makeSpoolFiles, visible } from "./testing/spool-files.js";

const root = process.getuid?.() === 0;
if (!root) console.warn("skipping router fault tests: mounting read-only and tmpfs folders needs root");

const { cleanups, setup, router } = routerFixtures("sluice-faults-", 100);

function mount(...args: string[]): void {
  execFileSync("mount", args);
}

function umount(path: string): void {
  try {
    execFileSync("umount", ["-l", path]);
  } catch {
    // already gone
  }
}

describe.skipIf(!root)("router faults on real mounts", () => {
  it("skips an unwritable pool node and holds an alone consumer's files until it is writable again", async () => {
    const at = setup(["n1", "n2", "arkime"]);
    for (const ro of ["n2", "arkime"]) {
      mount("--bind", at(ro), at(ro));
      mount("-o", "remount,ro,bind", at(ro));
      cleanups.push(() => umount(at(ro)));
    }
    const files = makeSpoolFiles(at("spool"), 6);
    const r = router(at, {
      pools: [{ name: "p", nodes: ["n1", "n2"].map((n) => ({ name: n, path: at(n) })) }],
      alone: [{ name: "arkime", path: at("arkime") }],
    });
    await r.start();
    for (const f of files) await r.submit(f.path);
    await waitFor(() => visible(at("n1")).length === 6);
    expect(r.healthOf("arkime")).toMatchObject({ healthy: false, reason: "unwritable" });
    expect(r.pending().files).toBe(6);
    umount(at("arkime"));
    await r.idle();
    expect(visible(at("arkime"))).toEqual(files.map((f) => f.name));
    expect(visible(at("n2"))).toEqual([]);
  });

  it("moves on to another node when a tmpfs node fills up, and resumes an alone tmpfs once space is freed", async () => {
    const at = setup(["small", "big", "alone"]);
    for (const t of ["small", "alone"]) {
      mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", at(t));
      cleanups.push(() => umount(at(t)));
    }
    const files = makeSpoolFiles(at("spool"), 8, 300_000);
    const failures: string[] = [];
    const r = router(at, {
      pools: [
        {
          name: "p",
          nodes: [
            { name: "small", path: at("small"), minFreeBytes: 0 },
            { name: "big", path: at("big"), minFreeBytes: 0 },
          ],
        },
      ],
      alone: [{ name: "alone", path: at("alone"), minFreeBytes: 0 }],
    });
    r.on("delivery-failed", (e) => failures.push(`${e.destination} ${e.error.errno}`));
    await r.start();
    for (const f of files) await r.submit(f.path);
    await waitFor(() => visible(at("small")).length + visible(at("big")).length === 8);
    expect(visible(at("small")).length).toBeLessThanOrEqual(3);
    expect(failures).toContain("small ENOSPC");
    expect(failures).toContain("alone ENOSPC");
    expect(visible(at("alone")).length).toBeLessThan(8);
    // A reader that takes files away as they come (as a consumer frees its folder) gets every one.
    const taken = new Set<string>();
    const reader = setInterval(() => {
      for (const name of visible(at("alone"))) {
        taken.add(name);
        rmSync(join(at("alone"), name));
      }
    }, 20);
    cleanups.push(() => clearInterval(reader));
    await r.idle();
    clearInterval(reader);
    for (const name of visible(at("alone"))) taken.add(name);
    expect([...taken].sort()).toEqual(files.map((f) => f.name));
    expect(r.pending().files).toBe(0);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}
