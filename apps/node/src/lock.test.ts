import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DirectoryLock } from "@sluice/spool";
import { randpkt } from "@sluice/testlab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { framesOf } from "./testing/lab-fixture.js";
import { CLI, runNode } from "./testing/node-process.js";

// Issue 17, case 1 for the node: two nodes on one state dir would both replay every file.
const built = existsSync(CLI);
if (!built) console.warn(`skipping the node lock tests: ${CLI} is not built`);

let dir = "";
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "node-lock-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A reader of the node's FIFO, as zeek -r would be: resolves with what it read once the writer closes.
function reader(fifo: string, out: string): Promise<unknown> {
  const child = spawn("sh", ["-c", `exec cat "${fifo}" > "${out}"`], { stdio: "ignore" });
  return new Promise((resolve) => child.on("exit", resolve));
}

describe.skipIf(!built)("one node per state dir", () => {
  it("refuses a second node on a state dir in use, naming the first's pid, and the first goes on; a SIGKILLed one's lock is taken over", async () => {
    const at = (n: string) => join(dir, n);
    mkdirSync(at("in"));
    const fifo = at("zeek.pcap");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    const config = at("node.json");
    writeFileSync(
      config,
      JSON.stringify({
        incoming: at("in"),
        output: { type: "fifo", path: fifo },
        speed: "topspeed",
        failed: at("failed"),
        stateDir: at("state"),
        rescanSeconds: 0.5,
      }),
    );
    randpkt(at("one.pcap"), "tcp", 50, 400);
    randpkt(at("two.pcap"), "udp", 70, 400);

    const firstRead = reader(fifo, at("read1.pcap"));
    const first = runNode(config);
    await first.event("watching");
    const second = runNode(config);
    expect(await second.exited).toBe(1);
    const pid = first.child.pid!;
    expect(second.stderr()).toContain(`${at("state")} is locked by sluice-node run (pid ${pid}`);
    expect((await second.event("start-failed"))["error"]).toMatchObject({
      reason: "locked",
      detail: { pid },
    });

    copyFileSync(at("one.pcap"), join(at("in"), "span0-20261122T100000Z-000001.pcap"));
    await first.event("file-deleted");
    first.child.kill("SIGKILL");
    await first.exited;
    await firstRead;
    expect(framesOf(at("read1.pcap"))).toEqual(framesOf(at("one.pcap")));

    const nextRead = reader(fifo, at("read2.pcap"));
    const third = runNode(config);
    await third.event("watching");
    expect((await DirectoryLock.holder(at("state")))?.pid).toBe(third.child.pid);
    copyFileSync(at("two.pcap"), join(at("in"), "span0-20261122T100100Z-000002.pcap"));
    await third.event("file-deleted");
    third.child.kill("SIGTERM");
    expect(await third.exited).toBe(0);
    await nextRead;
    // The file the first node replayed is not replayed again: the journal it kept is intact.
    expect(framesOf(at("read2.pcap"))).toEqual(framesOf(at("two.pcap")));
  });
});
