import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { FlowHasher } from "@sluice/decode";
import { type PacketRecord, readCaptureSync } from "@sluice/pcap-format";
import { type Lab, labUnavailableReason, makeLabCapture, missingTools, withLab } from "@sluice/testlab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadAddon } from "./binding.js";
import type { NativeCaptureOptions, NativeError } from "./native.js";

const addon = loadAddon().addon;
const labReason = labUnavailableReason() ?? missingTools("tcpreplay", "tcpdump", "setpriv");
if (addon === null) console.warn(`skipping capture tests: ${loadAddon().reason}`);
else if (labReason) console.warn(`skipping live capture tests: they need ${labReason}`);

const childScript = fileURLToPath(new URL("./testing/capture-child.mjs", import.meta.url));
let dir = "";
let input = "";
let sent: PacketRecord[] = [];

const hex = (packets: { data: Uint8Array }[]): string[] =>
  packets.map((p) => Buffer.from(p.data).toString("hex"));
const live = (device: string, more: Partial<NativeCaptureOptions> = {}): NativeCaptureOptions => ({
  device,
  filter: "",
  snaplen: 262144,
  promiscuous: true,
  bufferSize: 16 << 20,
  timeoutMs: 20,
  ...more,
});

// Reads every record an offline handle returns, batch after batch, as one byte string.
function readAll(path: string, bufferBytes: number, maxPackets = 65536, filter = "") {
  const handle = new addon!.CaptureHandle({ ...live(path), offline: true, filter });
  const buffer = Buffer.alloc(bufferBytes);
  const offsets = new Uint32Array(maxPackets + 1);
  const parts: Buffer[] = [];
  const batches: number[] = [];
  for (;;) {
    const count = handle.dispatch(buffer, 8, offsets, maxPackets);
    if (count === 0) break;
    batches.push(count);
    // Offsets are consecutive records: each starts where the previous one's bytes end.
    for (let i = 0; i < count; i++) {
      expect(offsets[i + 1]! - offsets[i]!).toBe(16 + buffer.readUInt32LE(offsets[i]! + 8));
    }
    parts.push(Buffer.from(buffer.subarray(offsets[0], offsets[count])));
  }
  handle.close();
  return { bytes: Buffer.concat(parts), batches };
}

// The addon inside a lab namespace, in a process of its own (see testing/capture-child.mjs).
async function captureIn(lab: Lab, side: "a" | "b", handles: NativeCaptureOptions[], files: string[]) {
  const plan = { mode: "capture", handles, files };
  const child = lab.exec(side, process.execPath, [childScript, JSON.stringify(plan)]);
  await child.waitFor(/^ready /m, 20_000);
  const ready = JSON.parse(/^ready (.*)$/m.exec(child.stdout())![1]!) as { fanoutGroups: (number | null)[] };
  return {
    ready,
    stop: async () => {
      await child.stop("SIGTERM", 10_000);
      const done = /^done (.*)$/m.exec(child.stdout());
      if (!done) throw new Error(`capture child failed: ${child.stderr()}`);
      return JSON.parse(done[1]!) as {
        packets: number[];
        batches: number[];
        stats: { received: number; droppedByKernel: number }[];
      };
    },
  };
}

function silence(lab: Lab): void {
  for (const end of [lab.a, lab.b])
    spawnSync("ip", ["netns", "exec", end.netns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
}

function replay(lab: Lab, path: string, pps = 20_000): Promise<string> {
  return lab.run("a", "tcpreplay", ["-q", "-i", lab.a.iface, `--pps=${pps}`, path]);
}

const records = (path: string): PacketRecord[] => readCaptureSync(readFileSync(path)).packets;

describe.skipIf(addon === null)("the addon's capture handle", () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "packet-io-capture-"));
    input = join(dir, "lab.pcap");
    if (labReason === null) {
      await makeLabCapture(input, { bytes: 3e6 });
      sent = records(input);
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  describe.skipIf(labReason !== null)("offline", () => {
    it("returns a file's records byte for byte, in batches laid out as pcap records", () => {
      const { bytes, batches } = readAll(input, 8 << 20);
      expect(bytes.equals(readFileSync(input).subarray(24))).toBe(true);
      expect(batches.reduce((a, b) => a + b, 0)).toBe(sent.length);
    });

    it("stops a batch at maxPackets and when the next packet might not fit, losing none", () => {
      const whole = readFileSync(input).subarray(24);
      const few = readAll(input, 8 << 20, 100);
      expect(few.batches.every((n) => n <= 100)).toBe(true);
      expect(few.bytes.equals(whole)).toBe(true);
      // Room for about two snaplen-sized records: each batch ends when less than snaplen + 16 is left.
      const tight = readAll(input, 2 * (262144 + 16) + 8);
      expect(tight.batches.length).toBeGreaterThan(10);
      expect(tight.bytes.equals(whole)).toBe(true);
    });

    it("applies a BPF filter as tcpdump -r does", () => {
      const expected = join(dir, "udp.pcap");
      spawnSync("tcpdump", ["-r", input, "-w", expected, "udp"], { stdio: "ignore" });
      const { bytes } = readAll(input, 8 << 20, 65536, "udp");
      expect(bytes.equals(readFileSync(expected).subarray(24))).toBe(true);
    });
  });

  it("names a filter that does not compile, with libpcap's words", () => {
    const error = catching(() => new addon!.CaptureHandle(live("lo", { filter: "tcp port" })));
    expect(error).toMatchObject({ reason: "bad-filter" });
    expect(error.message).toMatch(/"tcp port".*syntax error/);
    expect(error.libpcap).toMatch(/syntax error/);
  });

  it("maps pcap_activate's status to a reason: a missing interface", () => {
    expect(catching(() => new addon!.CaptureHandle(live("nosuch0")))).toMatchObject({
      reason: "no-such-interface",
    });
  });

  it("refuses immediate mode and unknown fanout modes as bad options", () => {
    expect(catching(() => new addon!.CaptureHandle(live("lo", { timeoutMs: 0 })))).toMatchObject({
      reason: "bad-option",
    });
    const fanout = { group: 7, mode: "spray" as "hash", defrag: false };
    expect(catching(() => new addon!.CaptureHandle(live("lo", { fanout })))).toMatchObject({
      reason: "bad-option",
    });
  });

  it("throws `closed` after close(), and close() is idempotent", () => {
    const handle = new addon!.CaptureHandle(live("lo", { bufferSize: 1 << 20 }));
    handle.close();
    handle.close();
    expect(catching(() => handle.stats())).toMatchObject({ reason: "closed" });
  });

  describe.skipIf(labReason !== null)("live, in a lab", () => {
    it("captures exactly the frames tcpreplay sends, as tcpdump on the same interface does", async () => {
      await withLab(async (lab) => {
        silence(lab);
        const oracle = await lab.capture(join(dir, "oracle.pcap"), { on: "b" });
        const ours = join(dir, "ours.pcap");
        const capture = await captureIn(lab, "b", [live(lab.b.iface)], [ours]);
        await replay(lab, input);
        const done = await capture.stop();
        await oracle.stop();
        const got = records(ours);
        expect(hex(got)).toEqual(hex(sent));
        expect(hex(got)).toEqual(hex(records(oracle.path)));
        expect(done.packets[0]).toBe(sent.length);
        expect(done.stats[0]).toMatchObject({ received: sent.length, droppedByKernel: 0 });
        // Many packets per JavaScript call.
        expect(done.batches[0]).toBeLessThan(sent.length / 10);
      });
    });

    it("applies a BPF filter from the first packet", async () => {
      await withLab(async (lab) => {
        silence(lab);
        const expected = join(dir, "tcp-expected.pcap");
        spawnSync("tcpdump", ["-r", input, "-w", expected, "tcp and greater 200"], { stdio: "ignore" });
        const ours = join(dir, "tcp.pcap");
        const capture = await captureIn(
          lab,
          "b",
          [live(lab.b.iface, { filter: "tcp and greater 200" })],
          [ours],
        );
        await replay(lab, input);
        await capture.stop();
        expect(hex(records(ours))).toEqual(hex(records(expected)));
      });
    });

    // libpcap#1482: the `inbound`/`outbound` qualifiers match nothing in the ring's first block. The
    // direction pcap_setdirection sets is checked on every packet from the ring's own packet type.
    it("honours pcap_setdirection from the very first packet, both ways", async () => {
      await withLab(async (lab) => {
        const files = [join(dir, "in.pcap"), join(dir, "out.pcap")];
        const capture = await captureIn(
          lab,
          "b",
          [
            live(lab.b.iface, { direction: "in", filter: "icmp" }),
            live(lab.b.iface, { direction: "out", filter: "icmp" }),
          ],
          files,
        );
        const pong = await lab.ping({ count: 3, intervalMs: 10 });
        await capture.stop();
        expect(pong.received).toBe(3);
        const types = (path: string) => records(path).map((p) => p.data[14 + 20]);
        expect(types(files[0]!)).toEqual([0, 0, 0]); // replies come in
        expect(types(files[1]!)).toEqual([8, 8, 8]); // requests go out
      });
    });

    it("reports an interface that is down", async () => {
      await withLab(async (lab) => {
        await lab.run("b", "ip", ["link", "set", lab.b.iface, "down"]);
        const plan = { mode: "cycles", options: live(lab.b.iface), cycles: 1, dispatch: false };
        const run = await lab.exec("b", process.execPath, [childScript, JSON.stringify(plan)]);
        await run.exited;
        expect(run.stderr()).toMatch(/reason: 'interface-down'/);
      });
    });

    it("leaks no descriptor over 1000 open/poll/dispatch/close cycles under load", async () => {
      await withLab(async (lab) => {
        silence(lab);
        const plan = {
          mode: "cycles",
          options: live(lab.b.iface, { bufferSize: 1 << 20 }),
          cycles: 1000,
          dispatch: true,
        };
        const load = lab.exec("a", "tcpreplay", ["-q", "-i", lab.a.iface, "--loop=0", "--pps=20000", input]);
        try {
          const run = await lab.run("b", process.execPath, [childScript, JSON.stringify(plan)]);
          const done = JSON.parse(/^done (.*)$/m.exec(run)![1]!) as Record<string, number & string[]>;
          expect(done["after"]).toEqual(done["before"]);
          expect(done["packets"]).toBeGreaterThan(0);
        } finally {
          await load.stop("SIGTERM");
        }
      });
    }, 300_000);

    it("puts both directions of every TCP/UDP flow into one PACKET_FANOUT hash member, each frame once", async () => {
      await withLab(async (lab) => {
        silence(lab); // no frames of the kernels' own, so the oracle and the members see the same
        const oracle = await lab.capture(join(dir, "fanout-oracle.pcap"), { on: "b" });
        const files = [0, 1, 2].map((i) => join(dir, `fanout-${i}.pcap`));
        const member = live(lab.b.iface, { fanout: { group: null, mode: "hash", defrag: false } });
        const first = await captureIn(lab, "b", [member], [files[0]!]);
        const group = first.ready.fanoutGroups[0]!;
        expect(group).toBeTypeOf("number");
        const joined = { fanout: { group, mode: "hash" as const, defrag: false } };
        const others = await captureIn(
          lab,
          "b",
          [live(lab.b.iface, joined), live(lab.b.iface, joined)],
          [files[1]!, files[2]!],
        );
        // Many TCP connections and UDP datagrams in both directions.
        await Promise.all([
          lab.http({ requests: 300, responseBytes: [0, 20_000], concurrency: 8 }),
          lab.udp({ packets: 3000, receiver: "echo", ratePps: 10_000 }),
        ]);
        await Promise.all([first.stop(), others.stop()]);
        await oracle.stop();
        const members = files.map(records);
        const everything = hex(records(oracle.path)).sort();
        expect(hex(members.flat()).sort()).toEqual(everything);
        const hasher = new FlowHasher();
        const owner = new Map<number, number>();
        let split = 0;
        members.forEach((packets, i) => {
          for (const p of packets) {
            const flow = hasher.hashRecord(p);
            const was = owner.get(flow);
            if (was !== undefined && was !== i) split++;
            owner.set(flow, i);
          }
        });
        expect(split).toBe(0);
        // The hash spread the flows: one member may draw none of the dozen or so flows by chance, two hardly.
        expect(members.filter((m) => m.length > 0).length).toBeGreaterThanOrEqual(2);
      });
    });
  });

  it("opens, dispatches and closes inside a worker thread, and a worker exiting with a handle open does not abort", async () => {
    const script = join(dir, "worker.mjs");
    writeFileSync(
      script,
      `import { parentPort, workerData } from "node:worker_threads";
       import { createRequire } from "node:module";
       const addon = createRequire(import.meta.url)(workerData.addon);
       const options = { device: "lo", filter: "", snaplen: 65535, promiscuous: false, bufferSize: 1 << 20, timeoutMs: 10 };
       const closed = new addon.CaptureHandle(options);
       closed.poll(() => {});
       closed.dispatch(Buffer.alloc(1 << 20), 0, new Uint32Array(1025), 1024);
       closed.close();
       if (workerData.keepOpen) {
         const open = new addon.CaptureHandle(options);
         open.poll(() => {});
       }
       parentPort.postMessage("done");`,
    );
    const addonPath = fileURLToPath(new URL("../build/Release/packet_io.node", import.meta.url));
    // A file, not --eval: workers inherit the main thread's execArgv.
    const main = join(dir, "main.mjs");
    writeFileSync(
      main,
      `import { Worker } from "node:worker_threads";
       import { readdirSync, readlinkSync } from "node:fs";
       const open = () => readdirSync("/proc/self/fd").flatMap((fd) => {
         try { return [fd + " " + readlinkSync("/proc/self/fd/" + fd)]; } catch { return []; }
       });
       process.stdout.write("");
       let before = [];
       // Run 0 warms up (Node opens descriptors of its own for the first worker).
       for (let i = 0; i <= 20; i++) {
         if (i === 1) before = open();
         // Even runs close everything and end by themselves; odd ones keep a polled handle and are terminated.
         const keepOpen = i % 2 === 1;
         const worker = new Worker(${JSON.stringify(script)}, { workerData: { addon: ${JSON.stringify(addonPath)}, keepOpen } });
         const exited = new Promise((resolve, reject) => { worker.on("exit", resolve); worker.on("error", reject); });
         await new Promise((resolve) => worker.on("message", resolve));
         if (keepOpen) await worker.terminate();
         await exited;
       }
       const after = open();
       console.log(JSON.stringify({ before, after }));`,
    );
    const run = spawnSync(process.execPath, [main], { encoding: "utf8", timeout: 60_000 });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    const { before, after } = JSON.parse(run.stdout) as { before: string[]; after: string[] };
    expect(after).toEqual(before);
  });
});

function catching(run: () => unknown): NativeError {
  try {
    run();
  } catch (error) {
    return error as NativeError;
  }
  throw new Error("expected a throw");
}
