import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type PacketRecord, readCaptureSync } from "@sluice/pcap-format";
import { labUnavailableReason, makeLabCapture, missingTools, withLab } from "@sluice/testlab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CaptureError,
  InterfaceSource,
  type InterfaceSourceOptions,
  type PacketIoMode,
  type SourcePacket,
} from "./index.js";
import { loadPacketIo } from "./native-live-handle.js";

const reason = labUnavailableReason() ?? missingTools("tcpreplay", "tcpdump", "setpriv");
if (reason) console.warn(`skipping interface source tests: they need ${reason}`);
const addonReason = loadPacketIo().addon === null ? loadPacketIo().reason : null;
if (addonReason) console.warn(`skipping the packet-io addon's interface source tests: ${addonReason}`);
// Both packet I/O paths pass the same tests: the addon's batches and node_pcap's per-packet callback.
const paths: PacketIoMode[] = ["native", "pcap"];
let packetIo: PacketIoMode = "native";

type LabEnd = { netns: string; iface: string };
let dir = "";
let file = "";
let sent: PacketRecord[] = [];

const hex = (packets: { data: Uint8Array }[]): string[] =>
  packets.map((p) => Buffer.from(p.data).toString("hex"));

// Replays a capture into one end of the veth pair with real tcpreplay; resolves when it is done.
function tcpreplay(end: LabEnd, capture: string, pps = 20_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      "ip",
      ["netns", "exec", end.netns, "tcpreplay", "-q", "-i", end.iface, `--pps=${pps}`, capture],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let err = "";
    child.stderr.on("data", (d) => {
      err += d;
    });
    child.on("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`tcpreplay exited ${code}: ${err}`)),
    );
  });
}

// With IPv6 off and no traffic of their own, the namespaces' kernels stay silent: every frame on the
// wire is one tcpreplay sent.
function silence(...ends: LabEnd[]): void {
  for (const end of ends)
    spawnSync("ip", ["netns", "exec", end.netns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
}

async function capturing(end: LabEnd, options: Partial<InterfaceSourceOptions> = {}) {
  const source = new InterfaceSource({
    interface: end.iface,
    netns: end.netns,
    direction: "in",
    packetIo,
    ...options,
  });
  const packets: SourcePacket[] = [];
  source.on("packet", (p) => packets.push({ ...p, data: Buffer.from(p.data) }));
  await source.start();
  return { source, packets };
}

describe.skipIf(reason !== null).each(paths)("interface source on a veth pair, packetIo %s", (mode) => {
  const skip = mode === "native" && addonReason !== null;
  beforeAll(async () => {
    packetIo = mode;
    if (skip) return;
    dir = mkdtempSync(join(tmpdir(), "interface-source-"));
    file = join(dir, "lab.pcap");
    await makeLabCapture(file, { bytes: 3e6 });
    sent = readCaptureSync(readFileSync(file)).packets;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.skipIf(skip)(
    "captures exactly the frames tcpreplay sends: byte-identical, in order, none missing",
    async () => {
      await withLab(async (lab) => {
        silence(lab.a, lab.b);
        const { source, packets } = await capturing(lab.b);
        expect(source.packetIo).toBe(mode);
        await tcpreplay(lab.a, file);
        const stats = await source.stop();
        expect(packets.length).toBe(sent.length);
        expect(hex(packets)).toEqual(hex(sent));
        expect(stats).toMatchObject({
          captured: sent.length,
          received: sent.length,
          droppedByKernel: 0,
          droppedByConsumer: 0,
        });
        expect(packets.every((p) => p.source === lab.b.iface && p.linkType === 1)).toBe(true);
        // Timestamps are the capture's own, in order.
        for (let i = 1; i < packets.length; i++) {
          const [a, b] = [packets[i - 1]!, packets[i]!];
          expect(b.seconds * 1e9 + b.nanoseconds).toBeGreaterThanOrEqual(a.seconds * 1e9 + a.nanoseconds);
        }
      });
    },
  );

  it.skipIf(skip)(
    "reports an interface deleted under it as lost, after every frame taken before, and exits cleanly",
    async () => {
      await withLab(async (lab) => {
        silence(lab.a, lab.b);
        const { source, packets } = await capturing(lab.b);
        const errors: CaptureError[] = [];
        source.on("error", (e) => errors.push(e));
        const lost = new Promise<CaptureError>((resolve) => source.once("lost", resolve));
        await tcpreplay(lab.a, file);
        for (let waited = 0; packets.length < sent.length && waited < 10_000; waited += 10) {
          await new Promise((r) => setTimeout(r, 10));
        }
        await lab.deleteLink();
        const error = await lost;
        expect(error).toMatchObject({ reason: "no-such-interface" });
        expect(error.detail).toMatchObject({ interface: lab.b.iface, errno: "ENODEV" });
        expect(error.message).toMatch(/the interface disappeared/);
        const stats = await source.stop();
        expect(source.lost).toBe(error);
        expect(hex(packets)).toEqual(hex(sent));
        expect(stats).toMatchObject({ captured: sent.length, written: sent.length, droppedByConsumer: 0 });
        expect(errors).toEqual([]); // lost, not "child-exited"
      });
    },
  );

  it.skipIf(skip)("selects what tcpdump -r FILE FILTER selects, for several filters at once", async () => {
    const filters = [
      "tcp",
      "udp and not port 53",
      "icmp or icmp6",
      "tcp[tcpflags] & tcp-syn != 0",
      "ip6",
      "greater 1000",
    ];
    const expected = filters.map((filter, i) => {
      const out = join(dir, `filter-${i}.pcap`);
      spawnSync("tcpdump", ["-r", file, "-w", out, filter], { stdio: "ignore" });
      return readCaptureSync(readFileSync(out)).packets;
    });
    await withLab(async (lab) => {
      silence(lab.a, lab.b);
      const sources = await Promise.all(filters.map((filter) => capturing(lab.b, { filter, name: filter })));
      await tcpreplay(lab.a, file);
      await Promise.all(sources.map((s) => s.source.stop()));
      sources.forEach(({ packets }, i) => {
        expect(packets.length, filters[i]).toBe(expected[i]!.length);
        expect(hex(packets), filters[i]).toEqual(hex(expected[i]!));
      });
      expect(expected.every((e) => e.length > 0)).toBe(true);
    });
  });

  it.skipIf(skip)(
    "counts packets its consumer could not keep up with, and never blocks the ring",
    async () => {
      await withLab(async (lab) => {
        silence(lab.a, lab.b);
        const source = new InterfaceSource({
          interface: lab.b.iface,
          netns: lab.b.netns,
          direction: "in",
          maxQueuedBytes: 64 * 1024,
          packetIo,
        });
        let emitted = 0;
        let stalled = false;
        source.on("packet", () => {
          emitted++;
          if (stalled) return;
          stalled = true;
          const until = Date.now() + 1500; // a consumer that stops reading for 1.5 s
          while (Date.now() < until);
        });
        await source.start();
        await tcpreplay(lab.a, file, 10_000);
        const stats = await source.stop();
        expect(stats.droppedByConsumer).toBeGreaterThan(0);
        expect(stats.droppedByKernel).toBe(0);
        expect(stats.captured + stats.droppedByConsumer).toBe(sent.length);
        expect(emitted).toBe(stats.captured);
      });
    },
  );

  it.skipIf(skip)("captures only outbound packets when asked", async () => {
    await withLab(async (lab) => {
      const inbound = await capturing(lab.b, { direction: "in", filter: "icmp" });
      const outbound = await capturing(lab.b, { direction: "out", filter: "icmp" });
      const pong = await lab.ping({ count: 3, intervalMs: 10 });
      await Promise.all([inbound.source.stop(), outbound.source.stop()]);
      expect(pong.received).toBe(3);
      const types = (packets: SourcePacket[]) => packets.map((p) => p.data[14 + 20]); // ICMP type after Ethernet + IPv4
      // Ping runs in b: requests go out of b, replies come in.
      expect(types(outbound.packets)).toEqual([8, 8, 8]);
      expect(types(inbound.packets)).toEqual([0, 0, 0]);
    });
  });

  it.skipIf(skip)('tells directions apart on the cooked "any" interface too', async () => {
    await withLab(async (lab) => {
      const outbound = await capturing(
        { netns: lab.b.netns, iface: "any" },
        { direction: "out", filter: "icmp" },
      );
      await lab.ping({ count: 2, intervalMs: 10 });
      await outbound.source.stop();
      expect(outbound.packets.map((p) => p.linkType)).toEqual([113, 113]);
      expect(outbound.packets.map((p) => p.data[16 + 20])).toEqual([8, 8]); // after SLL (16) + IPv4 (20)
    });
  });

  it.skipIf(skip)("switches to the configured user once the interface is open", async () => {
    await withLab(async (lab) => {
      const source = new InterfaceSource({
        interface: lab.b.iface,
        netns: lab.b.netns,
        user: "nobody",
        packetIo,
      });
      await source.start();
      const status = readFileSync(`/proc/${source.pid}/status`, "utf8");
      const uid = Number(spawnSync("id", ["-u", "nobody"], { encoding: "utf8" }).stdout);
      expect(status).toMatch(new RegExp(`^Uid:\\s+${uid}\\s+${uid}\\s+${uid}\\s+${uid}$`, "m"));
      await lab.ping({ count: 2, intervalMs: 10 });
      const stats = await source.stop();
      expect(stats.captured).toBeGreaterThanOrEqual(4);
    });
  });

  it.skipIf(skip)("names a filter that does not compile, with its text and libpcap's message", async () => {
    const error = await new InterfaceSource({ interface: "lo", filter: "tcp port", packetIo })
      .start()
      .catch((e: CaptureError) => e);
    expect(error).toMatchObject({
      code: "ERR_CAPTURE",
      reason: "bad-filter",
      detail: { filter: "tcp port" },
    });
    expect((error as CaptureError).message).toMatch(/"tcp port".*syntax error/);
  });

  it.skipIf(skip)("lists the interfaces that exist when asked for one that does not", async () => {
    const error = await new InterfaceSource({ interface: "nosuch0", packetIo })
      .start()
      .catch((e: CaptureError) => e);
    expect(error).toMatchObject({ reason: "no-such-interface" });
    expect((error as CaptureError).detail["available"]).toContain("lo");
    expect((error as CaptureError).message).toMatch(/"nosuch0" does not exist; available: .*\blo\b/);
  });

  it.skipIf(skip)("names CAP_NET_RAW when it runs without privileges", () => {
    const script = join(dir, "unprivileged.mjs");
    const entry = fileURLToPath(new URL("../dist/index.js", import.meta.url));
    writeFileSync(
      script,
      `import { InterfaceSource } from ${JSON.stringify(entry)};
       try { await new InterfaceSource({ interface: "lo", packetIo: ${JSON.stringify(packetIo)} }).start(); console.log("started"); }
       catch (e) { console.log(JSON.stringify({ reason: e.reason, message: e.message })); }`,
    );
    spawnSync("chmod", ["-R", "a+rX", dir]);
    const run = spawnSync(
      "setpriv",
      ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, script],
      { encoding: "utf8", timeout: 30_000 },
    );
    const result = JSON.parse(run.stdout.trim().split("\n").at(-1)!);
    expect(result.reason).toBe("permission-denied");
    expect(result.message).toMatch(/CAP_NET_RAW/);
  });

  it.skipIf(skip)("refuses options that would break the capture, naming the option", () => {
    expect(() => new InterfaceSource({ interface: "lo", bufferTimeoutMs: 0 })).toThrow(
      /bufferTimeoutMs.*immediate mode is never used/,
    );
    expect(() => new InterfaceSource({ interface: "lo", snaplen: 10 })).toThrow(/snaplen/);
    expect(() => new InterfaceSource({ interface: "", snaplen: 100 })).toThrow(/interface/);
  });
});

describe.skipIf(reason !== null)("choosing the packet I/O", () => {
  // The child inherits the environment: SLUICE_PACKET_IO_ADDON points its loader at another build.
  async function startWith(env: Record<string, string>, options: Partial<InterfaceSourceOptions> = {}) {
    const saved = { ...process.env };
    Object.assign(process.env, env);
    const source = new InterfaceSource({ interface: "lo", bufferSize: 1 << 20, ...options });
    const warnings: string[] = [];
    source.on("warning", (w) => warnings.push(w));
    try {
      const error = await source.start().then(
        () => null,
        (e: CaptureError) => e,
      );
      return { source, warnings, error };
    } finally {
      process.env = saved;
    }
  }

  it.skipIf(addonReason !== null)("uses the addon by default when it loads, without a warning", async () => {
    const { source, warnings, error } = await startWith({});
    await source.stop();
    expect(error).toBeNull();
    expect(source.packetIo).toBe("native");
    expect(warnings).toEqual([]);
  });

  it("falls back to node_pcap with one warning saying why when the addon is missing", async () => {
    const missing = join(dir || tmpdir(), "no-such-build", "packet_io.node");
    const { source, warnings, error } = await startWith({ SLUICE_PACKET_IO_ADDON: missing });
    await source.stop();
    expect(error).toBeNull();
    expect(source.packetIo).toBe("pcap");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/node_pcap.*not built or does not load.*no-such-build/);
  });

  it("falls back with one warning when the build is for another interface version", async () => {
    const stale = join(mkdtempSync(join(tmpdir(), "stale-addon-")), "packet_io.cjs");
    // A stand-in for a stale build: the loader asks it for its interface version first.
    writeFileSync(stale, "exports.version = () => ({ libpcap: 'libpcap version 0', abi: 999 });\n");
    const { source, warnings, error } = await startWith({ SLUICE_PACKET_IO_ADDON: stale });
    await source.stop();
    expect(error).toBeNull();
    expect(source.packetIo).toBe("pcap");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/built for interface 999.*rebuild/);
  });

  it("uses node_pcap without a warning when SLUICE_PACKET_IO=pcap asks for it", async () => {
    const { source, warnings, error } = await startWith({ SLUICE_PACKET_IO: "pcap" });
    await source.stop();
    expect(error).toBeNull();
    expect(source.packetIo).toBe("pcap");
    expect(warnings).toEqual([]);
  });

  it("refuses to start when the addon is required and does not load", async () => {
    const missing = join(tmpdir(), "no-such-build", "packet_io.node");
    const { error } = await startWith({ SLUICE_PACKET_IO_ADDON: missing }, { packetIo: "native" });
    expect(error).toMatchObject({ code: "ERR_CAPTURE", reason: "packet-io-unavailable" });
    expect(error!.message).toMatch(/packetIo is native.*not built or does not load/);
  });

  it("refuses fanout on node_pcap, which cannot join a group", async () => {
    const { error } = await startWith({}, { packetIo: "pcap", fanout: { mode: "hash" } });
    expect(error).toMatchObject({ reason: "bad-option", detail: { option: "packetIo" } });
  });
});
