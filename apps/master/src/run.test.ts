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
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fetchMetricsText, parseMetrics } from "@sluice/daemon";
import { readCaptureSync } from "@sluice/pcap-format";
import { labUnavailableReason, makeLabCapture, missingTools, randpkt, withLab } from "@sluice/testlab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, type MasterProcess, runMaster } from "./testing/master-process.js";

const built = existsSync(CLI);
if (!built) console.warn(`skipping sluice-master run tests: ${CLI} is not built`);
const labReason = labUnavailableReason() ?? missingTools("tcpreplay", "mergecap", "socat");
if (built && labReason)
  console.warn(`skipping sluice-master run tests on live traffic: they need ${labReason}`);

let dir = "";
let capture = "";
let port = 19_500 + (process.pid % 400);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const visible = (d: string) =>
  existsSync(d)
    ? readdirSync(d)
        .filter((n) => !n.startsWith("."))
        .sort()
    : [];
const frames = (files: string[]) =>
  files.flatMap((f) =>
    readCaptureSync(readFileSync(f)).packets.map((p) => Buffer.from(p.data).toString("hex")),
  );

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "master-run-"));
  capture = join(dir, "lab.pcap");
  if (built && !labReason) await makeLabCapture(capture, { bytes: 2e6 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A folder per name under a fresh test folder, and a config file there. */
function setup(name: string, folders: string[]) {
  const root = join(dir, name);
  for (const f of folders) mkdirSync(join(root, f), { recursive: true });
  const at = (n: string) => join(root, n);
  const write = (config: unknown) => {
    writeFileSync(at("master.json"), JSON.stringify(config, null, 2));
    return at("master.json");
  };
  return { at, write };
}

async function stop(master: MasterProcess): Promise<void> {
  master.child.kill("SIGTERM");
  expect(await master.exited).toBe(0);
}

describe.skipIf(!built)("sluice-master run", () => {
  it("routes inbox files to one node per pool and every alone consumer; SIGHUP adds and removes nodes", async () => {
    const { at, write } = setup("reload", ["inbox", "n1", "n2", "n3", "arkime"]);
    const pool = (nodes: string[]) => [
      { name: "sensors", nodes: nodes.map((n) => ({ name: n, path: at(n) })) },
    ];
    const config = {
      spool: at("spool"),
      sources: [{ type: "folder", name: "inbox", path: at("inbox"), stableSeconds: 0.1 }],
      pools: pool(["n1", "n2"]),
      alone: [{ name: "arkime", path: at("arkime"), ready: "close-write" }],
      metrics: { listen: `127.0.0.1:${port++}` },
    };
    const master = runMaster(write(config));
    await master.event("started");
    const drop = (n: number, prefix: string) => {
      for (let i = 0; i < n; i++) {
        randpkt(at(`${prefix}${i}.tmp`), "tcp", 20, 500);
        execFileSync("mv", [at(`${prefix}${i}.tmp`), at(`inbox/${prefix}${i}.pcap`)]);
      }
    };
    drop(4, "a");
    await waitFor(() => master.count("dispatched") === 4);
    expect(visible(at("n1"))).toHaveLength(2);
    expect(visible(at("n2"))).toHaveLength(2);

    write({ ...config, pools: pool(["n2", "n3"]) });
    master.child.kill("SIGHUP");
    await master.event("config-reloaded");
    drop(4, "b");
    await waitFor(() => master.count("dispatched") === 8);
    expect(visible(at("n1"))).toHaveLength(2);
    expect(visible(at("n2"))).toHaveLength(4);
    expect(visible(at("n3"))).toHaveLength(2);
    expect(visible(at("arkime"))).toHaveLength(8);

    writeFileSync(at("master.json"), '{ "pools": [ { "name": 3 } ] }');
    master.child.kill("SIGHUP");
    const refused = await master.event("config-reload-refused");
    expect(JSON.stringify(refused["problems"])).toContain("$.pools[0].name");
    drop(2, "c");
    await waitFor(() => master.count("dispatched") === 10);
    expect(visible(at("n3"))).toHaveLength(3);

    const metrics = parseMetrics(await fetchMetricsText(config.metrics.listen));
    const value = (name: string, labels: Record<string, string>) =>
      metrics.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
        ?.value;
    expect(value("sluice_deliveries_total", { destination: "arkime", result: "ok" })).toBe(10);
    expect(value("sluice_files_rotated_total", { source: "inbox" })).toBe(10);
    expect(value("sluice_destination_healthy", { destination: "n3" })).toBe(1);
    const status = spawnSync(
      process.execPath,
      // Only the address: master.json is the invalid one of the reload above (--config would be read).
      [CLI, "status", "--metrics", config.metrics.listen],
      {
        encoding: "utf8",
      },
    );
    expect(status.status).toBe(0);
    expect(status.stdout).toMatch(/^inbox\s+watching\s+\d+\s+[\d.]+\s+\d+\s+0\s+0\s+0\s+10$/m);
    expect(status.stdout).toMatch(/^arkime\s+alone\s+yes\s+10\s/m);
    await stop(master);
  });

  it("completes what a SIGKILLed master left, without sending a file twice to the pool", async () => {
    const { at, write } = setup("killed", ["inbox", "n1", "n2", "arkime"]);
    for (let i = 0; i < 30; i++) randpkt(at(`inbox/f${i}.pcap`), "udp", 300, 1500);
    const config = write({
      spool: at("spool"),
      sources: [{ type: "folder", name: "inbox", path: at("inbox"), stableSeconds: 0.05 }],
      pools: [{ name: "p", nodes: ["n1", "n2"].map((n) => ({ name: n, path: at(n), link: false })) }],
      alone: [{ name: "arkime", path: at("arkime"), link: false }],
    });
    const first = runMaster(config);
    await first.event("delivered", undefined, 20_000);
    first.child.kill("SIGKILL");
    await first.exited;
    const second = runMaster(config);
    await waitFor(() => visible(at("arkime")).length === 30 && visible(at("inbox")).length === 0, 30_000);
    await waitFor(() => visible(at("spool/ready")).length === 0);
    const inPool = [...visible(at("n1")), ...visible(at("n2"))];
    expect(new Set(inPool).size).toBe(inPool.length);
    expect(inPool.sort()).toEqual(visible(at("arkime")));
    await stop(second);
  });

  describe.skipIf(labReason !== null)("on live traffic", () => {
    // With workers: 2, two fanout children each write their own file series (…-w1-…, …-w2-…).
    it.each([1, 2])(
      "captures an interface into rotated files and gives pool and alone consumers exactly the frames sent (workers: %i)",
      async (workers) => {
        await withLab(async (lab) => {
          silence(lab.a.netns, lab.b.netns);
          const { at, write } = setup(`span-${workers}`, ["n1", "n2", "arkime"]);
          const master = runMaster(
            write({
              spool: at("spool"),
              sources: [
                { type: "interface", name: "span0", interface: lab.b.iface, netns: lab.b.netns, workers },
              ],
              rotation: { seconds: 1 },
              pools: [{ name: "p", nodes: ["n1", "n2"].map((n) => ({ name: n, path: at(n) })) }],
              alone: [{ name: "arkime", path: at("arkime") }],
            }),
          );
          // Logged once every worker's child is capturing (RotatingCapture.start waits for all of them).
          await master.event("source-started");
          // A 2 MB capture at 1500 packets/s lasts well over the 1 s rotation: at least two files.
          execFileSync(
            "ip",
            ["netns", "exec", lab.a.netns, "tcpreplay", "-q", "-i", lab.a.iface, "--pps=1500", capture],
            { stdio: "ignore" },
          );
          await rotated(master, frames([capture]).length);
          await stop(master);
          const alone = visible(at("arkime"));
          expect(alone.length).toBeGreaterThanOrEqual(2);
          expect([...visible(at("n1")), ...visible(at("n2"))].sort()).toEqual(alone);
          const got = frames(alone.map((f) => join(at("arkime"), f)));
          if (workers === 1) {
            expect(got).toEqual(frames([capture]));
          } else {
            // Each worker's series reaches every consumer; together they hold every frame once (each
            // worker's in its own order).
            expect(alone.some((f) => f.includes("-w1-"))).toBe(true);
            expect(alone.some((f) => f.includes("-w2-"))).toBe(true);
            expect(got.sort()).toEqual(frames([capture]).sort());
          }
        });
      },
    );

    it("logs, counts and shows an interface that disappears, keeps its file, and captures again when it is back", async () => {
      await withLab(async (lab) => {
        silence(lab.a.netns, lab.b.netns);
        const { at, write } = setup("vanish", ["arkime"]);
        const listen = `127.0.0.1:${port++}`;
        const master = runMaster(
          write({
            spool: at("spool"),
            sources: [{ type: "interface", name: "span0", interface: lab.b.iface, netns: lab.b.netns }],
            rotation: { seconds: 3600 },
            alone: [{ name: "arkime", path: at("arkime") }],
            metrics: { listen },
          }),
        );
        await master.event("source-started");
        // Node's global agent keeps sockets alive; one the server closed while the test was busy fails
        // once with "socket hang up": a scrape is then simply repeated.
        const scrape = () => fetchMetricsText(listen).catch(() => fetchMetricsText(listen));
        const metric = async (name: string, labels: Record<string, string> = { source: "span0" }) =>
          parseMetrics(await scrape()).find(
            (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
          )?.value;
        const replay = () =>
          execFileSync(
            "ip",
            ["netns", "exec", lab.a.netns, "tcpreplay", "-q", "-i", lab.a.iface, "--pps=5000", capture],
            {
              stdio: "ignore",
            },
          );
        const sent = frames([capture]);
        expect(await metric("sluice_source_up")).toBe(1);

        // Before: every frame written, then the veth pair is deleted.
        replay();
        await waitForAsync(async () => (await metric("sluice_packets_written_total")) === sent.length);
        await lab.deleteLink();
        const down = await master.event("source-down");
        expect(down).toMatchObject({ source: "span0", interface: lab.b.iface, reason: "no-such-interface" });
        expect(JSON.stringify(down["error"])).toMatch(/disappeared/);
        // The open file was finished and published with everything captured before the loss.
        const first = await master.event("file-rotated");
        expect(first["packets"]).toBe(sent.length);
        expect(await metric("sluice_source_up")).toBe(0);
        const status = (await (await fetch(`http://${listen}/status.json`)).json()) as {
          sources: { name: string; state: string; detail: string }[];
        };
        expect(status.sources.find((s) => s.name === "span0")).toMatchObject({ state: "down" });
        expect(status.sources.find((s) => s.name === "span0")!.detail).toMatch(/disappeared/);
        expect(visible(at("spool/ready")).filter((n) => n.endsWith(".partial"))).toEqual([]);

        // After: the interface is back, the master reopens it; a reference tcpdump on the new interface.
        // The lab gives the new veth IPv6 addresses: IPv6 back on for that, then silenced again.
        for (const ns of [lab.a.netns, lab.b.netns])
          spawnSync("ip", ["netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=0"]);
        await lab.recreateLink();
        silence(lab.a.netns, lab.b.netns);
        const up = await master.event("source-up", undefined, 30_000);
        expect(up).toMatchObject({ source: "span0", interface: lab.b.iface });
        expect(await metric("sluice_source_up")).toBe(1);
        const oracle = await lab.capture(join(dir, "vanish-oracle.pcap"), { on: "b" });
        replay();
        await waitForAsync(async () => (await metric("sluice_packets_written_total")) === 2 * sent.length);
        await oracle.stop();
        await stop(master);
        // The first file was delivered; the one finished on stop may still wait in the spool for the next start.
        const files = master.events
          .filter((e) => e["event"] === "file-rotated")
          .map((e) => String(e["path"]))
          .map((path) => (existsSync(path) ? path : join(at("arkime"), basename(path))));
        expect(files).toHaveLength(2);
        const [before, after] = files;
        expect(before!.startsWith(at("arkime"))).toBe(true);
        expect(frames([before!])).toEqual(sent);
        // Every frame the reference tcpdump saw on the new interface is in the new file, in order (the
        // new veth's own first IPv6 frames may come before it started).
        const seen = frames([oracle.path]);
        expect(seen.length).toBeGreaterThanOrEqual(sent.length);
        expect(frames([after!]).slice(-seen.length)).toEqual(seen);
        expect(master.count("source-down")).toBe(1);
      });
    });

    it("captures AWS VPC mirroring as the inner frames of a VXLAN source", async () => {
      await withLab(async (lab) => {
        silence(lab.a.netns, lab.b.netns);
        const a = (...args: string[]) => execFileSync("ip", ["netns", "exec", lab.a.netns, ...args]);
        // Room for a full 1500-byte inner frame plus the 50 bytes of VXLAN encapsulation.
        for (const end of [lab.a, lab.b])
          execFileSync("ip", ["-n", end.netns, "link", "set", end.iface, "mtu", "1600"]);
        a(
          "ip",
          "link",
          "add",
          "vx7",
          "type",
          "vxlan",
          "id",
          "7",
          "remote",
          lab.b.ipv4,
          "dstport",
          "4789",
          "dev",
          lab.a.iface,
        );
        a("sysctl", "-qw", "net.ipv6.conf.vx7.disable_ipv6=1");
        a("ip", "link", "set", "vx7", "mtu", "1500", "up");
        const { at, write } = setup("vxlan", ["n1", "arkime"]);
        const master = runMaster(
          write({
            spool: at("spool"),
            sources: [{ type: "vxlan", name: "vpc", vni: 7, device: lab.b.iface, netns: lab.b.netns }],
            rotation: { seconds: 1 },
            pools: [{ name: "p", nodes: [{ name: "n1", path: at("n1") }] }],
            alone: [{ name: "arkime", path: at("arkime") }],
          }),
        );
        await master.event("source-started");
        a("tcpreplay", "-q", "-i", "vx7", "--pps=5000", capture);
        await rotated(master, frames([capture]).length);
        await stop(master);
        expect(frames(visible(at("arkime")).map((f) => join(at("arkime"), f)))).toEqual(frames([capture]));
        expect(spawnSync("ip", ["-n", lab.b.netns, "link", "show", "sluice7"]).status).not.toBe(0); // removed
      });
    });

    it("takes pcap streamed over TCP by tcpdump | socat, one file series per sender", async () => {
      const { at, write } = setup("socket", ["n1", "arkime"]);
      const listen = `127.0.0.1:${port++}`;
      const master = runMaster(
        write({
          spool: at("spool"),
          sources: [{ type: "socket", name: "remote", listen }],
          rotation: { seconds: 1 },
          pools: [{ name: "p", nodes: [{ name: "n1", path: at("n1") }] }],
          alone: [{ name: "arkime", path: at("arkime") }],
        }),
      );
      await master.event("source-started");
      const send = () =>
        new Promise<void>((resolve, reject) => {
          const sender = spawn("sh", [
            "-c",
            `tcpdump -r ${capture} -w - 2>/dev/null | socat -u - TCP:${listen}`,
          ]);
          sender.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`sender exited ${code}`))));
        });
      await Promise.all([send(), send()]);
      await master.event("sender-closed");
      await waitFor(() => master.count("sender-closed") === 2);
      await rotated(master, 2 * frames([capture]).length);
      await stop(master);
      const files = visible(at("arkime"));
      const senders = new Set(files.map((f) => f.replace(/-\d{8}T\d{6}Z-\d+\.pcap$/, "")));
      expect(senders.size).toBe(2);
      for (const sender of senders) {
        const mine = files.filter((f) => f.startsWith(`${sender}-`)).map((f) => join(at("arkime"), f));
        expect(frames(mine)).toEqual(frames([capture]));
      }
      expect(visible(at("n1"))).toEqual(files);
    });
  });
});

function silence(...netns: string[]): void {
  for (const ns of netns)
    spawnSync("ip", ["netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
}

/**
 * Waits until the master has rotated `packets` packets into files and dispatched every one of them:
 * everything sent was captured, cut (the last file on time, as the link went idle) and delivered, so
 * stopping now leaves nothing for a next start however slow the machine.
 */
async function rotated(master: MasterProcess, packets: number): Promise<void> {
  const rotations = () => master.events.filter((e) => e["event"] === "file-rotated");
  const count = () => rotations().reduce((n, e) => n + Number(e["packets"]), 0);
  await waitFor(() => count() >= packets && master.count("dispatched") >= rotations().length, 60_000);
}

async function waitForAsync(condition: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await sleep(50);
  }
}

async function waitFor(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await sleep(25);
  }
}
