import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readCaptureSync } from "@sluice/pcap-format";
import { createLab, type Lab, labUnavailableReason, missingTools } from "@sluice/testlab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadAddon } from "./binding.js";

const addonPath = fileURLToPath(new URL("../build/Release/packet_io.node", import.meta.url));
const reason =
  labUnavailableReason() ??
  missingTools("tcpdump", "tc") ??
  (loadAddon().reason === null ? null : `the addon (${loadAddon().reason})`);
if (reason) console.warn(`skipping packet-io inject tests: they need ${reason}`);

let dir = "";
let lab: Lab;
let quiet = "";

/** Frame i: locally administered MACs, an experimental ethertype, i in the payload, `size` bytes. */
function frame(i: number, size: number): Buffer {
  const data = Buffer.alloc(size, i & 0xff);
  Buffer.from([0x02, 0xbb, 0, 0, 0, 2, 0x02, 0xaa, 0, 0, 0, 1, 0x88, 0xb5]).copy(data, 0);
  data.writeUInt32BE(i, 14);
  return data;
}

/** `count` frames of 60 to 1514 bytes, as one buffer and positions (what send() takes). */
function frames(count: number, size?: (i: number) => number): { bytes: Buffer; positions: number[] } {
  const list = Array.from({ length: count }, (_, i) => frame(i, size ? size(i) : 60 + ((i * 97) % 1455)));
  const positions: number[] = [];
  let at = 0;
  for (const f of list) {
    positions.push(at, f.length);
    at += f.length;
  }
  return { bytes: Buffer.concat(list), positions };
}

/**
 * Runs `body` (CommonJS; `addon`, `args` and `out(value)` in scope) in a Node process inside the lab's
 * side a, where the veth end is, and returns what it passed to out().
 */
async function inLab<T>(body: string, args: unknown = {}): Promise<T> {
  const script = join(dir, `script-${Math.random().toString(36).slice(2)}.cjs`);
  writeFileSync(
    script,
    `const addon = require(${JSON.stringify(addonPath)});
const args = JSON.parse(process.argv[2]);
const out = (value) => process.stdout.write(JSON.stringify(value));
(async () => { ${body} })().catch((e) => { console.error(e); process.exit(1); });`,
  );
  return JSON.parse(await lab.run("a", process.execPath, [script, JSON.stringify(args)])) as T;
}

const hex = (records: { data: Uint8Array }[]): string[] =>
  records.map((r) => Buffer.from(r.data).toString("hex"));
const expected = ({ bytes, positions }: { bytes: Buffer; positions: number[] }): string[] =>
  Array.from({ length: positions.length / 2 }, (_, i) =>
    bytes.subarray(positions[2 * i]!, positions[2 * i]! + positions[2 * i + 1]!).toString("hex"),
  );

/** Sends `batch` from side a in calls of `per` frames (again while a call sends fewer), capturing on `on`. */
async function sendAndCapture(
  name: string,
  batch: { bytes: Buffer; positions: number[] },
  options: Record<string, unknown>,
  per: number,
  on: "a" | "b" = "b",
) {
  const file = join(dir, `${name}.bin`);
  writeFileSync(file, batch.bytes);
  const capture = await lab.capture(join(dir, `${name}.pcap`), { on, filter: quiet });
  const result = await inLab<{ sent: number; calls: number[]; stats: Record<string, number> }>(
    `const bytes = require("fs").readFileSync(args.file);
const positions = Uint32Array.from(args.positions);
const socket = new addon.InjectSocket({ interface: args.iface, ...args.options });
const total = positions.length / 2;
let sent = 0;
const calls = [];
while (sent < total) {
  const n = socket.send(bytes, positions, sent, Math.min(args.per, total - sent));
  calls.push(n);
  sent += n;
}
const stats = socket.stats();
socket.close();
out({ sent, calls, stats });`,
    { file, positions: batch.positions, iface: lab.a.iface, options, per },
  );
  await capture.stop();
  return {
    ...result,
    received: readCaptureSync(new Uint8Array(readFileSync(join(dir, `${name}.pcap`)))).packets,
  };
}

describe.skipIf(reason !== null)("InjectSocket on a veth pair", () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "sluice-packet-io-"));
    lab = await createLab();
    // Only the frames the tests send: nothing either kernel says on its own.
    quiet = await lab.quietFilter();
  });

  afterAll(async () => {
    await lab?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each(["sendmmsg", "tx-ring"])(
    "sends a batch byte-exact and in order with %s, across the 1024-frame sendmmsg limit",
    async (method) => {
      const batch = frames(3000);
      const result = await sendAndCapture(`exact-${method}`, batch, { method }, 2500);
      expect(result.sent).toBe(3000);
      expect(result.calls).toEqual([2500, 500]);
      expect(result.stats).toMatchObject({ sent: 3000, calls: 2, retriesNoBuffers: 0 });
      expect(hex(result.received)).toEqual(expected(batch));
    },
  );

  it("sendAsync sends on a pool thread: byte-exact, one at a time, and close() waits for it", async () => {
    const batch = frames(2000);
    const file = join(dir, "async.bin");
    writeFileSync(file, batch.bytes);
    const capture = await lab.capture(join(dir, "async.pcap"), { filter: quiet });
    const result = await inLab<{
      sent: number[];
      busy: string;
      closed: string;
      fdsAfter: number;
      fdsBefore: number;
    }>(
      `const fs = require("fs");
const fds = () => fs.readdirSync("/proc/self/fd").length;
const bytes = fs.readFileSync(args.file);
const positions = Uint32Array.from(args.positions);
const fdsBefore = fds();
const socket = new addon.InjectSocket({ interface: args.iface });
const sendAsync = (first, count) => new Promise((resolve, reject) =>
  socket.sendAsync(bytes, positions, first, count, (error, sent) => (error ? reject(error) : resolve(sent))));
const sent = [];
const first = sendAsync(0, 1000);
let busy = null;
try { socket.send(bytes, positions, 1000, 1); } catch (e) { busy = e.reason; }
sent.push(await first);
const second = sendAsync(1000, 1000);
// Closed while the send is in flight: the send finishes, then the socket closes.
socket.close();
sent.push(await second);
let closed = null;
try { socket.send(bytes, positions, 0, 1); } catch (e) { closed = e.reason; }
out({ sent, busy, closed, fdsBefore, fdsAfter: fds() });`,
      { file, positions: batch.positions, iface: lab.a.iface },
    );
    await capture.stop();
    expect(result.sent).toEqual([1000, 1000]);
    expect(result.busy).toBe("bad-option");
    expect(result.closed).toBe("closed");
    expect(result.fdsAfter).toBe(result.fdsBefore);
    const received = readCaptureSync(new Uint8Array(readFileSync(join(dir, "async.pcap")))).packets;
    expect(hex(received)).toEqual(expected(batch));
  });

  it("returns the frames before one the kernel refuses; the next call throws frame-too-big (EMSGSIZE)", async () => {
    const batch = frames(4, (i) => (i === 2 ? 1515 : 100));
    const result = await inLab<{ first: number; error: Record<string, string>; rest: number }>(
      `const bytes = Buffer.from(args.bytes, "hex");
const positions = Uint32Array.from(args.positions);
const socket = new addon.InjectSocket({ interface: args.iface });
const first = socket.send(bytes, positions, 0, 4);
let error = null;
try { socket.send(bytes, positions, first, 4 - first); } catch (e) { error = { reason: e.reason, errno: e.errno, message: e.message }; }
const rest = socket.send(bytes, positions, 3, 1);
socket.close();
out({ first, error, rest });`,
      { bytes: batch.bytes.toString("hex"), positions: batch.positions, iface: lab.a.iface },
    );
    expect(result.first).toBe(2);
    expect(result.error).toMatchObject({ reason: "frame-too-big", errno: "EMSGSIZE" });
    expect(result.error["message"]).toContain("1515-byte frame");
    expect(result.rest).toBe(1);
  });

  it("refuses to open a missing or down interface, and a closed socket, with typed reasons", async () => {
    const errors = await inLab<Record<string, { reason: string; errno?: string; message: string }>>(
      `const errors = {};
const attempt = (name, f) => { try { f(); errors[name] = null; } catch (e) { errors[name] = { reason: e.reason, errno: e.errno, message: e.message }; } };
attempt("missing", () => new addon.InjectSocket({ interface: "nope0" }));
attempt("method", () => new addon.InjectSocket({ interface: args.iface, method: "carrier-pigeon" }));
require("child_process").execFileSync("ip", ["link", "set", args.iface, "down"]);
attempt("down", () => new addon.InjectSocket({ interface: args.iface }));
require("child_process").execFileSync("ip", ["link", "set", args.iface, "up"]);
const socket = new addon.InjectSocket({ interface: args.iface });
socket.close();
socket.close();
attempt("closed", () => socket.send(Buffer.alloc(60), new Uint32Array([0, 60]), 0, 1));
out(errors);`,
      { iface: lab.a.iface },
    );
    expect(errors["missing"]).toMatchObject({ reason: "no-such-interface", errno: "ENODEV" });
    expect(errors["missing"]!.message).toContain("nope0");
    expect(errors["method"]).toMatchObject({ reason: "bad-option" });
    expect(errors["down"]).toMatchObject({ reason: "interface-down", errno: "ENETDOWN" });
    expect(errors["closed"]).toMatchObject({ reason: "closed" });
  });

  it("waits out a full queue (ENOBUFS from a rate-limiting qdisc) and loses no frame, as tcpreplay does", async () => {
    // 1000 frames of 1000 bytes through 40 Mbit/s with room for 10 in the queue: most sends find it full.
    const unlimit = await lab.rateLimit("a", "40mbit");
    try {
      const batch = frames(1000, () => 1000);
      const result = await sendAndCapture("enobufs", batch, {}, 1000);
      expect(result.stats["retriesNoBuffers"]).toBeGreaterThan(0);
      // 8 Mbit at 40 Mbit/s is 200 ms: a call returns once it has waited 20 ms in all, for IPC to get in.
      expect(result.calls.length).toBeGreaterThan(1);
      expect(hex(result.received)).toEqual(expected(batch));
    } finally {
      await unlimit();
    }
  });

  it("with qdiscBypass skips the qdisc, and the sending interface's own taps (a tcpdump on it) see nothing", async () => {
    const unlimit = await lab.rateLimit("a", "1mbit");
    try {
      const batch = frames(500, () => 1000);
      // At 1 Mbit/s the qdisc would take 4 s: bypassed, the frames go out at once, with no full queue.
      const peer = await sendAndCapture("bypass-peer", batch, { qdiscBypass: true }, 500);
      expect(peer.stats["retriesNoBuffers"]).toBe(0);
      expect(hex(peer.received)).toEqual(expected(batch));
      const tap = await sendAndCapture("bypass-tap", batch, { qdiscBypass: true }, 500, "a");
      expect(tap.sent).toBe(500);
      expect(tap.received.length).toBe(0);
    } finally {
      await unlimit();
    }
    // Without it, a tcpdump on the sending interface sees every frame (as Suricata on owlh must).
    const batch = frames(50);
    const tap = await sendAndCapture("tap", batch, {}, 50, "a");
    expect(hex(tap.received)).toEqual(expected(batch));
  });

  it("leaks no descriptor (nor ring mapping) over 1000 open/send/close cycles, and children inherit no socket", async () => {
    const result = await inLab<{
      before: number;
      after: number;
      open: number;
      inherited: string[];
      mappedSockets: number;
    }>(
      `const fs = require("fs");
const fds = () => fs.readdirSync("/proc/self/fd").length;
const frame = Buffer.alloc(60, 1);
const positions = new Uint32Array([0, 60]);
const before = fds();
// Every 20th with a TX ring (mapped memory besides the descriptor; its setup takes milliseconds).
for (let i = 0; i < 1000; i++) {
  const socket = new addon.InjectSocket({ interface: args.iface, method: i % 20 ? "sendmmsg" : "tx-ring" });
  socket.send(frame, positions, 0, 1);
  socket.close();
}
const after = fds();
const mappedSockets = fs.readFileSync("/proc/self/maps", "utf8").split(String.fromCharCode(10)).filter((l) => l.includes("socket:[")).length;
const socket = new addon.InjectSocket({ interface: args.iface });
const open = fds();
const ours = fs.readdirSync("/proc/self/fd").map((fd) => { try { return fs.readlinkSync("/proc/self/fd/" + fd); } catch { return ""; } }).filter((l) => l.startsWith("socket:"));
const child = require("child_process").execFileSync("sh", ["-c", "ls -l /proc/$$/fd"], { encoding: "utf8" });
const inherited = ours.filter((link) => child.includes(link));
socket.close();
out({ before, after, open, inherited, mappedSockets });`,
      { iface: lab.a.iface },
    );
    expect(result.after).toBe(result.before);
    expect(result.open).toBe(result.before + 1);
    expect(result.inherited).toEqual([]);
    expect(result.mappedSockets).toBe(0);
  });

  it("lives in a worker thread: sends from it, and a worker that exits without close() leaves no descriptor", async () => {
    const capture = await lab.capture(join(dir, "worker.pcap"), { filter: quiet });
    const result = await inLab<{
      before: number;
      afterClosed: number;
      afterAbandoned: number;
      sent: number[];
    }>(
      `const { Worker } = require("worker_threads");
const fs = require("fs");
const fds = () => fs.readdirSync("/proc/self/fd").length;
const run = (close) => new Promise((resolve, reject) => {
  const worker = new Worker(\`
    const { parentPort, workerData } = require("worker_threads");
    if (workerData.close === null) parentPort.postMessage(0);
    else send();
    function send() {
    const addon = require(workerData.addon);
    const socket = new addon.InjectSocket({ interface: workerData.iface });
    const bytes = Buffer.alloc(100 * 10);
    const positions = new Uint32Array(20);
    for (let i = 0; i < 10; i++) {
      bytes.set([2, 0xbb, 0, 0, 0, 2, 2, 0xaa, 0, 0, 0, 1, 0x88, 0xb5, workerData.close ? 1 : 2, i], i * 100);
      positions[2 * i] = i * 100;
      positions[2 * i + 1] = 100;
    }
    const sent = socket.send(bytes, positions, 0, 10);
    if (workerData.close) socket.close();
    parentPort.postMessage(sent);
    }
  \`, { eval: true, workerData: { addon: args.addon, iface: args.iface, close } });
  let sent = 0;
  worker.on("message", (n) => { sent = n; });
  worker.on("error", reject);
  worker.on("exit", () => resolve(sent));
});
// Node keeps a descriptor or two open after the first worker that posts a message: not ours to count.
await run(null);
const before = fds();
const sent = [await run(true)];
const afterClosed = fds();
sent.push(await run(false));
const afterAbandoned = fds();
out({ before, afterClosed, afterAbandoned, sent });`,
      { iface: lab.a.iface, addon: addonPath },
    );
    await capture.stop();
    expect(result.sent).toEqual([10, 10]);
    expect(result.afterClosed).toBe(result.before);
    expect(result.afterAbandoned).toBe(result.before);
    const received = readCaptureSync(new Uint8Array(readFileSync(join(dir, "worker.pcap")))).packets;
    expect(received.map((r) => `${r.data[14]}-${r.data[15]}`)).toEqual([
      ...Array.from({ length: 10 }, (_, i) => `1-${i}`),
      ...Array.from({ length: 10 }, (_, i) => `2-${i}`),
    ]);
  });
});
