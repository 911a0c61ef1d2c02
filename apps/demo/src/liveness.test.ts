import { execFileSync, spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type DaemonProcess, missingTools, randpkt, startDaemon } from "@sluice/testlab";
import { afterAll, describe, expect, it } from "vitest";

const masterCli = fileURLToPath(new URL("../../master/dist/cli.js", import.meta.url));
const nodeCli = fileURLToPath(new URL("../../node/dist/cli.js", import.meta.url));
const reason =
  (existsSync(masterCli) && existsSync(nodeCli)
    ? null
    : "sluice-master and sluice-node built (make build)") ?? missingTools("randpkt");
if (reason) console.warn(`skipping the node liveness test: it needs ${reason}`);

const dir = mkdtempSync(join(tmpdir(), "sluice-liveness-"));
const stoppers: (() => void)[] = [];
afterAll(() => {
  for (const stop of stoppers.splice(0).reverse()) stop();
  rmSync(dir, { recursive: true, force: true });
});

const at = (name: string) => join(dir, name);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const captures = (d: string) => (existsSync(d) ? readdirSync(d).filter((n) => !n.startsWith(".")) : []);
/** What a node holds: files still in incoming and those it replayed (moved to done). */
const heldBy = (node: string) => [...captures(at(`${node}/incoming`)), ...captures(at(`${node}/done`))];

/** A `sluice-node run` on `<node>/incoming`, streaming into a FIFO someone always reads. */
function startNode(node: string): DaemonProcess {
  const fifo = at(`${node}/sensor.fifo`);
  if (!existsSync(fifo)) {
    for (const f of ["incoming", "done", "failed", "state"])
      mkdirSync(at(`${node}/${f}`), { recursive: true });
    execFileSync("mkfifo", [fifo]);
    const reader = spawn("sh", ["-c", `while :; do cat "${fifo}" > /dev/null; done`], {
      stdio: "ignore",
      detached: true,
    });
    stoppers.push(() => process.kill(-reader.pid!, "SIGKILL"));
  }
  const config = {
    incoming: at(`${node}/incoming`),
    output: { type: "fifo", path: fifo },
    speed: "topspeed",
    after: { action: "move", path: at(`${node}/done`) },
    failed: at(`${node}/failed`),
    stateDir: at(`${node}/state`),
    rescanSeconds: 0.2,
    heartbeat: { intervalSeconds: 0.3 },
  };
  writeFileSync(at(`${node}.json`), JSON.stringify(config));
  const daemon = startDaemon(nodeCli, ["run", "--config", at(`${node}.json`)]);
  stoppers.push(() => daemon.child.kill("SIGKILL"));
  return daemon;
}

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await sleep(50);
  }
}

describe.skipIf(reason !== null)("node liveness with real processes", () => {
  it("marks a SIGKILLed node node-down, sends every new file to the other node, and takes it back once it runs again", async () => {
    const listen = `127.0.0.1:${19_900 + (process.pid % 90)}`;
    mkdirSync(at("inbox"));
    const heartbeat = { file: ".sluice-node-heartbeat", maxAgeSeconds: 1.5 };
    writeFileSync(
      at("master.json"),
      JSON.stringify({
        spool: at("spool"),
        sources: [{ type: "folder", name: "inbox", path: at("inbox"), stableSeconds: 0.1 }],
        pools: [
          {
            name: "sensors",
            nodes: ["n1", "n2"].map((n) => ({
              name: n,
              path: at(`${n}/incoming`),
              minFreeMiB: 0,
              heartbeat,
            })),
          },
        ],
        delivery: { healthIntervalSeconds: 0.2 },
        metrics: { listen },
      }),
    );
    const nodes = { n1: startNode("n1"), n2: startNode("n2") };
    await nodes.n1.event("watching");
    await nodes.n2.event("watching");
    const beat = (node: string) => at(`${node}/incoming/.sluice-node-heartbeat`);
    await waitFor(() => existsSync(beat("n1")));
    expect(JSON.parse(readFileSync(beat("n1"), "utf8"))).toMatchObject({
      pid: nodes.n1.child.pid,
      hostname: hostname(),
      queue: 0,
    });
    const master = startDaemon(masterCli, ["run", "--config", at("master.json")]);
    stoppers.push(() => master.child.kill("SIGKILL"));
    await master.event("started");
    let dropped = 0;
    const drop = (n: number) => {
      for (let i = 0; i < n; i++, dropped++) {
        randpkt(at(`f${dropped}.tmp`), "tcp", 20, 500);
        execFileSync("mv", [at(`f${dropped}.tmp`), at(`inbox/f${dropped}.pcap`)]);
      }
    };
    const destination = async (name: string) => {
      const response = await fetch(`http://${listen}/status.json`);
      const status = (await response.json()) as { pools: { nodes: { name: string }[] }[] };
      return status.pools[0]!.nodes.find((n) => n.name === name) as Record<string, unknown>;
    };

    drop(4);
    await waitFor(() => master.count("dispatched") === 4);
    expect(heldBy("n1")).toHaveLength(2);
    expect(heldBy("n2")).toHaveLength(2);

    nodes.n2.child.kill("SIGKILL");
    expect(await nodes.n2.exited).toBeNull();
    await waitFor(async () => (await destination("n2"))["reason"] === "node-down");
    expect(await destination("n2")).toMatchObject({ health: "unhealthy", reason: "node-down" });
    expect(String((await destination("n2"))["message"])).toContain("unchanged for");
    const status = spawnSync(process.execPath, [masterCli, "status", "--metrics", listen], {
      encoding: "utf8",
    });
    expect(status.stdout).toMatch(/n2.*node.down/s);

    drop(6);
    await waitFor(() => master.count("dispatched") === 10);
    expect(heldBy("n1")).toHaveLength(8);
    expect(heldBy("n2")).toHaveLength(2);

    nodes.n2 = startNode("n2");
    await waitFor(async () => (await destination("n2"))["health"] === "healthy");
    drop(4);
    await waitFor(() => master.count("dispatched") === 14);
    expect(heldBy("n2").length).toBeGreaterThanOrEqual(3);
    const all = [...heldBy("n1"), ...heldBy("n2")].sort();
    expect(new Set(all).size).toBe(14);
    expect(master.events.filter((e) => e["event"] === "destination-unhealthy")).toContainEqual(
      expect.objectContaining({ destination: "n2", reason: "node-down" }),
    );
    // The heartbeat was never taken for a capture, and a node stopped on purpose takes it away.
    expect(captures(at("n1/failed"))).toEqual([]);
    nodes.n1.child.kill("SIGTERM");
    expect(await nodes.n1.exited).toBe(0);
    expect(existsSync(beat("n1"))).toBe(false);
    await waitFor(async () => (await destination("n1"))["reason"] === "node-down");
    master.child.kill("SIGTERM");
    expect(await master.exited).toBe(0);
  });
});
