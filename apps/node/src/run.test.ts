import { spawn, spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { verifyCapture } from "@sluice/pcap-format";
import { type CaptureHandle, createLab, type Lab, labUnavailableReason } from "@sluice/testlab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cutPieces, framesOf, labPieces, macOf, writePrefix } from "./testing/lab-fixture.js";
import { CLI, type NodeProcess, runNode } from "./testing/node-process.js";

const reason = labUnavailableReason() ?? (existsSync(CLI) ? null : `${CLI} built (npx tsup)`);
if (reason) console.warn(`skipping sluice-node run tests: they need ${reason}`);

let root = "";
let lab: Lab;
let pieces: string[] = [];
let own = "";
const HEARTBEAT = ".sluice-node-heartbeat";
let test = 0;

beforeAll(async () => {
  if (reason) return;
  root = mkdtempSync(join(tmpdir(), "node-run-"));
  mkdirSync(join(root, "fixture"));
  pieces = await labPieces(join(root, "fixture"), 4, 150);
  lab = await createLab();
  // Frames the lab's own kernels send (ARP, IPv6 neighbour discovery) are not replayed ones.
  own = `not ether src ${await macOf(lab, "a")} and not ether src ${await macOf(lab, "b")}`;
});
afterAll(async () => {
  await lab?.destroy();
  if (root) rmSync(root, { recursive: true, force: true });
});

interface Setup {
  dir: string;
  incoming: string;
  failed: string;
  config: string;
  write(overrides?: Record<string, unknown>): void;
  start(): NodeProcess;
  /** tcpdump on b, counting only frames that came from a (not b's own). */
  listen(): Promise<CaptureHandle>;
}

function setup(overrides: Record<string, unknown> = {}): Setup {
  const dir = join(root, `t${++test}`);
  const incoming = join(dir, "in");
  const failed = join(dir, "failed");
  mkdirSync(incoming, { recursive: true });
  const config = join(dir, "node.json");
  const s: Setup = {
    dir,
    incoming,
    failed,
    config,
    write(more = {}) {
      writeFileSync(
        config,
        JSON.stringify({
          incoming,
          output: { type: "interface", interface: lab.a.iface, netns: lab.a.netns },
          speed: "topspeed",
          after: { action: "delete" },
          failed,
          stateDir: join(dir, "state"),
          stableSeconds: 30,
          rescanSeconds: 1,
          retry: { initialSeconds: 0.2, maxSeconds: 0.5 },
          log: { level: "debug" },
          ...overrides,
          ...more,
        }),
      );
    },
    start: () => runNode(config),
    listen: () => lab.capture(join(dir, `b-${Date.now()}.pcap`), { filter: own }),
  };
  s.write();
  return s;
}

async function stop(node: NodeProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
  node.child.kill(signal);
  return node.exited;
}

/**
 * Copies `files` (in capture order) into incoming as `names`, last one first, and checks the node replays
 * them in capture order (the peer's tcpdump sees their frames in that order) and deletes each.
 */
async function replaysInCaptureOrder(files: string[], names: string[]): Promise<void> {
  const s = setup();
  for (let i = names.length - 1; i >= 0; i--) copyFileSync(files[i]!, join(s.incoming, names[i]!));
  const capture = await s.listen();
  const node = s.start();
  for (const name of names) await node.event("file-deleted", (e) => e["file"] === name);
  await capture.stop();
  expect(node.events.filter((e) => e["event"] === "replayed").map((e) => e["file"])).toEqual(names);
  expect(framesOf(capture.path)).toEqual(files.flatMap((file) => framesOf(file)));
  expect(readdirSync(s.incoming)).toEqual([HEARTBEAT]); // the node beats there while it runs
  expect(await stop(node)).toBe(0);
}

describe.skipIf(reason !== null)("sluice-node run", () => {
  it("replays files in capture order, not in the order they arrived, and deletes each after", async () => {
    // Lexical order of the names (and the order they are written) is the reverse of capture order.
    await replaysInCaptureOrder(pieces.slice(0, 3), [
      "zz-20261122T100000Z-000003.pcap",
      "mm-20261122T100100Z-000002.pcap",
      "aa-20261122T100200Z-000001.pcap",
    ]);
  });

  it("replays six files dropped in reverse order under tool-style names in first-record order", async () => {
    // tcpdump -G, dumpcap and hand-made names, none the master's: the peer must still see capture order.
    const six = await cutPieces(join(root, "fixture", "lab.pcap"), join(root, `six-${++test}`), 6, 100);
    await replaysInCaptureOrder(six, [
      "sensor-20261122T100001Z.pcap",
      "sensor-20261122T100002Z.pcap",
      "dump-2026-11-22_10-00-03.pcap",
      "ring_00004_20261122100004.pcap",
      "capture.pcap",
      "aaa.pcap",
    ]);
  });

  it("moves a replayed file and its sidecar manifest, and never replays the manifest", async () => {
    const s = setup({ after: { action: "move", path: "" } });
    const done = join(s.dir, "done");
    s.write({ after: { action: "move", path: done } });
    const name = "span0-20261122T100000Z-000001.pcap";
    writeFileSync(join(s.incoming, `${name}.json`), JSON.stringify({ source: "span0" }));
    copyFileSync(pieces[0]!, join(s.incoming, name));
    const capture = await s.listen();
    const node = s.start();
    await node.event("file-moved", (e) => e["file"] === name);
    await capture.stop();
    expect(readdirSync(done).sort()).toEqual([name, `${name}.json`]);
    expect(readFileSync(join(done, name))).toEqual(readFileSync(pieces[0]!));
    expect(readdirSync(s.incoming)).toEqual([HEARTBEAT]); // the node beats there while it runs
    expect(framesOf(capture.path)).toEqual(framesOf(pieces[0]!));
    expect(await stop(node)).toBe(0);
  });

  it("sets an incomplete file aside once stable, with the verifier's offset, and goes on with the next", async () => {
    const s = setup({ stableSeconds: 1 });
    const cutName = "span0-20261122T100000Z-000001.pcap";
    const whole = readFileSync(pieces[0]!);
    writePrefix(pieces[0]!, join(s.incoming, cutName), whole.length - 7);
    const expected = await verifyCapture(join(s.incoming, cutName));
    copyFileSync(pieces[1]!, join(s.incoming, "span0-20261122T100100Z-000002.pcap"));
    const capture = await s.listen();
    const node = s.start();
    await node.event("file-failed", (e) => e["file"] === cutName);
    await node.event("file-deleted", (e) => e["file"] === "span0-20261122T100100Z-000002.pcap");
    await capture.stop();
    const why = JSON.parse(readFileSync(join(s.failed, `${cutName}.reason.json`), "utf8"));
    expect(why).toMatchObject({
      file: cutName,
      reason: "truncated-record",
      offset: expected.error!.offset,
      packets: expected.packets,
    });
    expect(readFileSync(join(s.failed, cutName))).toEqual(whole.subarray(0, whole.length - 7));
    expect(framesOf(capture.path)).toEqual(framesOf(pieces[1]!));
    expect(await stop(node)).toBe(0);
  });

  it("sets aside a file that is no capture at all with bad-magic at offset 0", async () => {
    const s = setup({ stableSeconds: 0.5 });
    const name = "notes.txt";
    writeFileSync(join(s.incoming, name), "GET / HTTP/1.1\r\n\r\n");
    const node = s.start();
    await node.event("file-failed", (e) => e["file"] === name);
    expect(JSON.parse(readFileSync(join(s.failed, `${name}.reason.json`), "utf8"))).toMatchObject({
      reason: "bad-magic",
      offset: 0,
    });
    expect(readdirSync(s.incoming)).toEqual([HEARTBEAT]); // the node beats there while it runs
    expect(await stop(node)).toBe(0);
  });

  it("waits for a file still being written and replays it whole once complete", async () => {
    const s = setup({ stableSeconds: 60 });
    const name = "span0-20261122T100000Z-000001.pcap";
    const whole = readFileSync(pieces[2]!);
    const half = Math.floor(whole.length / 2);
    writeFileSync(join(s.incoming, name), whole.subarray(0, half));
    const capture = await s.listen();
    const node = s.start();
    await node.event("file-incomplete-waiting", (e) => e["file"] === name);
    writeFileSync(join(s.incoming, name), whole.subarray(half), { flag: "a" });
    await node.event("file-deleted", (e) => e["file"] === name);
    await capture.stop();
    expect(framesOf(capture.path)).toEqual(framesOf(pieces[2]!));
    expect(node.count("file-failed")).toBe(0);
    expect(await stop(node)).toBe(0);
  });

  it("does not keep the verdict on a file verified ahead while still being written", async () => {
    // B is read while A is replayed (verified ahead), found incomplete, then completed: B goes out whole.
    const s = setup({ stableSeconds: 60 });
    const a = "ahead-20261122T100000Z-000001.pcap";
    const b = "ahead-20261122T100100Z-000002.pcap";
    const whole = readFileSync(pieces[2]!);
    const half = Math.floor(whole.length / 2);
    writeFileSync(join(s.incoming, a), readFileSync(pieces[1]!));
    writeFileSync(join(s.incoming, b), whole.subarray(0, half));
    const capture = await s.listen();
    const node = s.start();
    await node.event("file-incomplete-waiting", (e) => e["file"] === b);
    writeFileSync(join(s.incoming, b), whole.subarray(half), { flag: "a" });
    await node.event("file-deleted", (e) => e["file"] === b);
    await capture.stop();
    expect(framesOf(capture.path)).toEqual([...framesOf(pieces[1]!), ...framesOf(pieces[2]!)]);
    expect(node.count("file-failed")).toBe(0);
    expect(await stop(node)).toBe(0);
  });

  it("refuses a symlink: the link goes to failed with its target named, the target is untouched", async () => {
    const s = setup();
    const target = join(s.dir, "elsewhere.pcap");
    copyFileSync(pieces[0]!, target);
    const name = "span0-20261122T100000Z-000001.pcap";
    symlinkSync(target, join(s.incoming, name));
    const node = s.start();
    await node.event("file-failed", (e) => e["file"] === name);
    expect(lstatSync(join(s.failed, name)).isSymbolicLink()).toBe(true);
    expect(JSON.parse(readFileSync(join(s.failed, `${name}.reason.json`), "utf8"))).toMatchObject({
      reason: "symlink",
      target,
    });
    expect(readFileSync(target)).toEqual(readFileSync(pieces[0]!));
    expect(node.count("replay-started")).toBe(0);
    expect(await stop(node)).toBe(0);
  });

  it("stops mid-file on SIGTERM at a record boundary, keeps the file and exits 0", async () => {
    const s = setup({ speed: { pps: 200 } });
    const name = "span0-20261122T100000Z-000001.pcap";
    copyFileSync(pieces[0]!, join(s.incoming, name));
    const capture = await s.listen();
    const node = s.start();
    await node.event("replay-started", (e) => e["file"] === name);
    await new Promise((r) => setTimeout(r, 300));
    expect(await stop(node, "SIGTERM")).toBe(0);
    await capture.stop();
    const sent = framesOf(capture.path);
    expect(sent.length).toBeLessThan(framesOf(pieces[0]!).length);
    expect(sent).toEqual(framesOf(pieces[0]!).slice(0, sent.length));
    expect(readFileSync(join(s.incoming, name))).toEqual(readFileSync(pieces[0]!));
    expect(node.events.map((e) => e["event"])).toContain("replay-interrupted");
    expect(node.events.at(-1)).toMatchObject({ event: "stopped", pending: 1 });
  });

  it("replays a file again after SIGKILL mid-file, then deletes it", async () => {
    const s = setup({ speed: { pps: 200 } });
    const name = "span0-20261122T100000Z-000001.pcap";
    copyFileSync(pieces[1]!, join(s.incoming, name));
    const capture = await s.listen();
    const first = s.start();
    await first.event("replay-started", (e) => e["file"] === name);
    await new Promise((r) => setTimeout(r, 300));
    await stop(first, "SIGKILL");
    expect(existsSync(join(s.incoming, name))).toBe(true);
    s.write({ speed: "topspeed" });
    const second = s.start();
    await second.event("file-deleted", (e) => e["file"] === name);
    await capture.stop();
    const frames = framesOf(pieces[1]!);
    const seen = framesOf(capture.path);
    // At least once: what the first run sent, then the whole file.
    expect(seen.length).toBeGreaterThan(frames.length);
    expect(seen.slice(-frames.length)).toEqual(frames);
    expect(readdirSync(s.incoming)).toEqual([HEARTBEAT]); // the node beats there while it runs
    expect(await stop(second)).toBe(0);
  });

  it("does not replay again a file whose replay the journal shows finished before a crash", async () => {
    const s = setup();
    const name = "span0-20261122T100000Z-000001.pcap";
    const path = join(s.incoming, name);
    copyFileSync(pieces[3]!, path);
    // What kill -9 between the journal write and the delete leaves: the file and its journal line.
    const { size, mtimeMs } = lstatSync(path);
    mkdirSync(join(s.dir, "state"));
    writeFileSync(
      join(s.dir, "state", "replayed.jsonl"),
      `${JSON.stringify({ name, size, mtimeMs, at: new Date().toISOString() })}\n`,
    );
    const capture = await s.listen();
    const node = s.start();
    await node.event("file-deleted", (e) => e["file"] === name);
    await capture.stop();
    expect(node.count("replay-already-finished")).toBe(1);
    expect(framesOf(capture.path)).toEqual([]);
    expect(await stop(node)).toBe(0);
  });

  it("keeps the file while the interface is down, retries, and replays it whole once it is up", async () => {
    const s = setup({ speed: { pps: 300 } });
    const name = "span0-20261122T100000Z-000001.pcap";
    copyFileSync(pieces[2]!, join(s.incoming, name));
    const capture = await s.listen();
    const node = s.start();
    await node.event("replay-started", (e) => e["file"] === name);
    await new Promise((r) => setTimeout(r, 200));
    await lab.run("a", "ip", ["link", "set", "dev", lab.a.iface, "down"]);
    try {
      await node.event("output-failed", (e) => e["file"] === name);
      await node.event("output-unavailable");
      expect(existsSync(join(s.incoming, name))).toBe(true);
    } finally {
      await lab.run("a", "ip", ["link", "set", "dev", lab.a.iface, "up"]);
    }
    await node.event("file-deleted", (e) => e["file"] === name);
    await capture.stop();
    const frames = framesOf(pieces[2]!);
    expect(framesOf(capture.path).slice(-frames.length)).toEqual(frames);
    expect(await stop(node)).toBe(0);
  });

  it("waits for an interface deleted mid-file, keeping the file, and replays it whole once it is back", async () => {
    // 150 packets at 60 pps: the removal (a CLI start, ~0.3 s) lands mid-file even on a loaded machine.
    const s = setup({
      speed: { pps: 60 },
      output: { type: "interface", interface: "owlh", netns: lab.a.netns },
    });
    const cli = (...args: string[]) =>
      spawnSync(process.execPath, [CLI, "setup-interface", "--netns", lab.a.netns, ...args]);
    expect(cli("--mtu", "1500").status).toBe(0);
    const name = "span0-20261122T100000Z-000001.pcap";
    copyFileSync(pieces[3]!, join(s.incoming, name));
    const node = s.start();
    try {
      await node.event("replay-started", (e) => e["file"] === name);
      expect(cli("--remove").status).toBe(0);
      await node.event("output-failed", (e) => e["file"] === name);
      await node.event("output-unavailable", (e) => e["reason"] === "no-such-interface");
      expect(existsSync(join(s.incoming, name))).toBe(true);
      s.write({ speed: "topspeed", output: { type: "interface", interface: "owlh", netns: lab.a.netns } });
      node.child.kill("SIGHUP");
      expect(cli("--mtu", "1500").status).toBe(0);
      const replayed = await node.event("replayed", (e) => e["file"] === name);
      expect(replayed["packetsSent"]).toBe(framesOf(pieces[3]!).length);
      await node.event("file-deleted", (e) => e["file"] === name);
      expect(await stop(node)).toBe(0);
    } finally {
      cli("--remove");
    }
  });

  it("streams the files as one continuous pcap into a FIFO, in capture order", async () => {
    const s = setup();
    const fifo = join(s.dir, "zeek.pcap");
    const out = join(s.dir, "read.pcap");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    s.write({ output: { type: "fifo", path: fifo } });
    copyFileSync(pieces[1]!, join(s.incoming, "span0-20261122T100100Z-000002.pcap"));
    copyFileSync(pieces[0]!, join(s.incoming, "span0-20261122T100000Z-000001.pcap"));
    // The reader zeek -r would be: it sees one pcap header, then every file's records.
    const reader = spawn("sh", ["-c", `exec cat "${fifo}" > "${out}"`], { stdio: "ignore" });
    const readerDone = new Promise((resolve) => reader.on("exit", resolve));
    const node = s.start();
    await node.event("file-deleted", (e) => e["file"] === "span0-20261122T100100Z-000002.pcap");
    expect(await stop(node)).toBe(0);
    await readerDone;
    expect(framesOf(out)).toEqual([...framesOf(pieces[0]!), ...framesOf(pieces[1]!)]);
  });

  it("reports files, packets and backlog on its metrics endpoint, which status summarises", async () => {
    const s = setup({ metrics: { listen: "127.0.0.1:0" } });
    copyFileSync(pieces[0]!, join(s.incoming, "span0-20261122T100000Z-000001.pcap"));
    const node = s.start();
    const started = await node.event("started");
    await node.event("file-deleted");
    const listen = String(started["metrics"]);
    const status = spawnSync(process.execPath, [CLI, "status", "--metrics", listen], { encoding: "utf8" });
    expect(status.status, status.stderr).toBe(0);
    expect(status.stdout).toContain("output:    up");
    expect(status.stdout).toContain(`replayed:  1 files, ${framesOf(pieces[0]!).length} packets`);
    expect(status.stdout).toContain("backlog:   0 files");
    expect(await stop(node)).toBe(0);
  });

  it("refuses an invalid config on SIGHUP and keeps running; takes a valid one", async () => {
    const s = setup();
    const node = s.start();
    await node.event("watching");
    writeFileSync(s.config, '{ "incoming": 3 }');
    node.child.kill("SIGHUP");
    const refused = await node.event("config-reload-refused");
    expect(JSON.stringify(refused["problems"])).toContain("$.incoming");
    s.write({ speed: "2x" });
    node.child.kill("SIGHUP");
    await node.event("config-reloaded");
    // The next file is replayed with the new speed (the output opens with it).
    copyFileSync(pieces[0]!, join(s.incoming, "span0-20261122T100000Z-000001.pcap"));
    expect(await node.event("output-open")).toMatchObject({ speed: "2x" });
    await node.event("file-deleted");
    expect(await stop(node)).toBe(0);
  });
});
