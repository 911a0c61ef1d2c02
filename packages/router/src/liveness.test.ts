import { mkdirSync, renameSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { PcapWriter } from "@sluice/pcap-format";
import { DEFAULT_HEARTBEAT_FILE, HeartbeatWriter } from "@sluice/spool";
import { describe, expect, it } from "vitest";
import type { DeliveredEvent } from "./router.js";
import { routerFixtures } from "./testing/router-fixtures.js";
import { makeSpoolFiles, visible } from "./testing/spool-files.js";

const { cleanups, setup, router } = routerFixtures("sluice-liveness-", 200);

/** A node's heartbeat beating every 50 ms until `kill` (the file stays, as after SIGKILL) or `stop`. */
function beating(dir: string) {
  const writer = new HeartbeatWriter({ dir });
  let timer: NodeJS.Timeout | null = null;
  const self = {
    async start() {
      await writer.beat();
      timer = setInterval(() => void writer.beat(), 50);
    },
    kill() {
      if (timer) clearInterval(timer);
      timer = null;
    },
    stop: () => {
      self.kill();
      return writer.stop();
    },
  };
  cleanups.push(() => self.kill());
  return self;
}

const heartbeat = { file: DEFAULT_HEARTBEAT_FILE, maxAgeMs: 400 };

/** Capture files whose first records are `order[i]` seconds in, named so that names sort otherwise. */
function capturesAt(
  dir: string,
  order: number[],
  prefix = "cap",
): { name: string; path: string; start: number }[] {
  mkdirSync(dir, { recursive: true });
  return order.map((start, i) => {
    const name = `${prefix}-${String.fromCharCode(122 - i)}.pcap`;
    const path = join(dir, name);
    const writer = PcapWriter.create(path, { linkType: 1 });
    writer.writePacket({ seconds: 1_763_807_400 + start, nanoseconds: 0, data: Buffer.alloc(60, i) });
    void writer.close();
    return { name, path, start };
  });
}

describe("node liveness", () => {
  it("marks a pool node whose heartbeat stops node-down, sends its share to the other node, and takes it back when it beats again", async () => {
    const at = setup(["n1", "n2"]);
    const hearts = { n1: beating(at("n1")), n2: beating(at("n2")) };
    await hearts.n1.start();
    await hearts.n2.start();
    const files = makeSpoolFiles(at("spool"), 10);
    const r = router(at, {
      pools: [{ name: "p", nodes: ["n1", "n2"].map((n) => ({ name: n, path: at(n), heartbeat })) }],
    });
    await r.start();
    for (const f of files.slice(0, 4)) await r.submit(f.path);
    await r.idle();
    expect(visible(at("n1"))).toHaveLength(2);
    expect(visible(at("n2"))).toHaveLength(2);

    hearts.n2.kill();
    await waitFor(() => r.healthOf("n2")?.reason === "node-down");
    expect(r.healthOf("n2")?.message).toContain(`pid ${process.pid}`);
    expect(r.healthOf("n1")).toMatchObject({ healthy: true });
    for (const f of files.slice(4, 8)) await r.submit(f.path);
    await r.idle();
    expect(visible(at("n1"))).toHaveLength(6);
    expect(visible(at("n2"))).toHaveLength(2);

    await hearts.n2.start();
    await waitFor(() => r.healthOf("n2")?.healthy === true);
    for (const f of files.slice(8)) await r.submit(f.path);
    await r.idle();
    expect(visible(at("n2"))).toHaveLength(3);
    expect([...visible(at("n1")), ...visible(at("n2"))].sort()).toEqual(files.map((f) => f.name));
  });

  it("sees a node stopped on purpose (its heartbeat removed) as gone at the next check", async () => {
    const at = setup(["n1"]);
    const heart = beating(at("n1"));
    await heart.start();
    const r = router(at, { pools: [{ name: "p", nodes: [{ name: "n1", path: at("n1"), heartbeat }] }] });
    await r.start();
    await r.refreshHealth();
    expect(r.healthOf("n1")).toMatchObject({ healthy: true });
    await heart.stop();
    await waitFor(() => r.healthOf("n1")?.reason === "node-down");
    expect(r.healthOf("n1")?.message).toContain("no heartbeat");
  });

  it("keeps an alone consumer's files while its node is down and delivers them, oldest first, when it is back", async () => {
    const at = setup(["arkime"]);
    const heart = beating(at("arkime"));
    const files = capturesAt(at("spool"), [3, 1, 2]);
    const delivered: string[] = [];
    const r = router(at, { alone: [{ name: "arkime", path: at("arkime"), heartbeat }] });
    r.on("delivered", (e) => delivered.push(e.file));
    await r.start();
    for (const f of files) await r.submit(f.path);
    await waitFor(() => r.healthOf("arkime")?.reason === "node-down");
    await sleep(300);
    expect(visible(at("arkime"))).toEqual([]);
    expect(r.pending().files).toBe(3);
    await heart.start();
    await r.idle();
    expect(delivered).toEqual(byStart(files));
  });

  it("checks a node's health endpoint: node-down once it has not answered for maxAge", async () => {
    const at = setup(["n1", "n2"]);
    const server = await listen();
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/healthz`;
    const r = router(at, {
      pools: [
        {
          name: "p",
          nodes: [
            { name: "n1", path: at("n1"), heartbeat: { url, maxAgeMs: 300 } },
            { name: "n2", path: at("n2") },
          ],
        },
      ],
    });
    await r.start();
    await r.refreshHealth();
    expect(r.healthOf("n1")).toMatchObject({ healthy: true });
    await new Promise((done) => server.close(done));
    server.closeAllConnections();
    await waitFor(() => r.healthOf("n1")?.reason === "node-down");
    expect(r.healthOf("n1")?.message).toContain(url);
    const files = makeSpoolFiles(at("spool"), 4);
    for (const f of files) await r.submit(f.path);
    await r.idle();
    expect(visible(at("n2"))).toEqual(files.map((f) => f.name));
  });

  it("refuses a heartbeat file name a queue would take for a capture", () => {
    const at = setup([]);
    expect(() =>
      router(at, { alone: [{ name: "a", path: at("a"), heartbeat: { file: "beat", maxAgeMs: 1 } }] }),
    ).toThrow(/hidden name/);
    expect(() => router(at, { alone: [{ name: "a", path: at("a"), heartbeat: { maxAgeMs: 1 } }] })).toThrow(
      /a file, a url or both/,
    );
  });
});

describe("backlog after an outage", () => {
  it("delivers an alone consumer's backlog in capture order when its folder comes back, new files after it", async () => {
    const at = setup(["store"]);
    rmSync(at("store"), { recursive: true });
    // Submitted out of capture order, named against it: only the first records give the order.
    const backlog = capturesAt(at("spool"), [50, 10, 40, 20, 30, 0]);
    const delivered: DeliveredEvent[] = [];
    const r = router(at, { concurrency: 4, alone: [{ name: "store", path: at("store") }] });
    r.on("delivered", (e) => delivered.push(e));
    await r.start();
    for (const f of backlog) await r.submit(f.path);
    await waitFor(() => r.healthOf("store")?.reason === "missing");
    await sleep(250); // several retries fail while it is away
    mkdirSync(at("store.new"));
    renameSync(at("store.new"), at("store"));
    const [late] = capturesAt(at("late"), [60], "late");
    await r.submit(late!.path);
    await r.idle();
    expect(delivered.map((e) => e.file)).toEqual([...byStart(backlog), late!.name]);
    expect(visible(at("store"))).toHaveLength(7);
  });

  it("delivers a pool's backlog in capture order when its only node comes back", async () => {
    const at = setup(["n1"]);
    const heart = beating(at("n1"));
    const backlog = capturesAt(at("spool"), [5, 3, 4, 1, 2]);
    const delivered: string[] = [];
    const r = router(at, { pools: [{ name: "p", nodes: [{ name: "n1", path: at("n1"), heartbeat }] }] });
    r.on("delivered", (e) => delivered.push(e.file));
    await r.start();
    for (const f of backlog) await r.submit(f.path);
    await sleep(250);
    expect(visible(at("n1"))).toEqual([]);
    await heart.start();
    await r.idle();
    expect(delivered).toEqual(byStart(backlog));
  });
});

function byStart(files: { name: string; start: number }[]): string[] {
  return [...files].sort((a, b) => a.start - b.start).map((f) => f.name);
}

function listen(): Promise<Server> {
  const server = createServer((_, response) => response.end("ok\n"));
  return new Promise((done) => server.listen(0, "127.0.0.1", () => done(server)));
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await sleep(20);
  }
}
