import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LinkType, type PacketRecord, PcapWriter, readCaptureSync } from "@sluice/pcap-format";
import { type CaptureHandle, createLab, type Lab, labUnavailableReason, makeLabCapture, missingTools, randpkt } from "@sluice/testlab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FileReplayStats, ReplayError, Replayer, type ReplayerOptions } from "./index.js";

const reason = labUnavailableReason() ?? missingTools("tcpdump", "randpkt");
if (reason) console.warn(`skipping replayer lab tests: they need ${reason}`);

let dir = "";
let lab: Lab;
let fixture = "";
let fixtureRecords: PacketRecord[] = [];
let strayFilter = "";

const hex = (packets: { data: Uint8Array }[]): string[] => packets.map((p) => Buffer.from(p.data).toString("hex"));
const readFile = (path: string): PacketRecord[] => readCaptureSync(new Uint8Array(readFileSync(path))).packets;

/** A frame to nobody: locally administered MACs, an experimental ethertype, the index in the payload. */
function frame(index: number, size = 100, ethertype = 0x88b5): Buffer {
  const data = Buffer.alloc(size, index & 0xff);
  Buffer.from([0x02, 0xbb, 0, 0, 0, 2, 0x02, 0xaa, 0, 0, 0, 1]).copy(data, 0);
  data.writeUInt16BE(ethertype, 12);
  data.writeUInt32BE(index, 14);
  return data;
}

/** Writes a classic pcap of `frames` at the given times (seconds, as floats from a base). */
function writeCapture(path: string, frames: { data: Uint8Array; at: number }[], linkType: number = LinkType.ETHERNET): string {
  const writer = PcapWriter.create(path, { linkType, precision: "nano" });
  const base = 1_700_000_000;
  for (const { data, at } of frames) {
    const whole = Math.floor(at);
    writer.writePacket({ seconds: base + whole, nanoseconds: Math.round((at - whole) * 1e9), data });
  }
  writer.flushSync();
  void writer.close();
  return path;
}

async function peerCapture(name: string): Promise<CaptureHandle> {
  return lab.capture(join(dir, name), { on: "b", filter: strayFilter, precision: "nano" });
}

function replayer(options: Partial<ReplayerOptions> = {}): Replayer {
  return new Replayer({ output: { type: "interface", interface: lab.a.iface, netns: lab.a.netns }, ...options });
}

async function replayAndCapture(name: string, files: string[], options: Partial<ReplayerOptions> = {}) {
  const capture = await peerCapture(name);
  const r = replayer(options);
  await r.start();
  const stats: FileReplayStats[] = [];
  try {
    for (const file of files) stats.push(await r.replayFile(file));
  } finally {
    await r.stop();
  }
  await capture.stop();
  return { stats, received: readFile(join(dir, name)), totals: r.stats() };
}

describe.skipIf(reason !== null)("replaying into a veth pair", () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "sluice-replayer-"));
    fixture = join(dir, "lab.pcap");
    await makeLabCapture(fixture, { bytes: 2e6 });
    fixtureRecords = readFile(fixture);
    lab = await createLab();
    const macs: string[] = [];
    for (const end of [lab.a, lab.b]) {
      spawnSync("ip", ["netns", "exec", end.netns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
      macs.push((await lab.run(end, "cat", [`/sys/class/net/${end.iface}/address`])).trim());
    }
    strayFilter = macs.map((mac) => `not ether src ${mac}`).join(" and ");
  });

  afterAll(async () => {
    await lab?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("delivers exactly the file's frames, byte-identical and in order, at topspeed", async () => {
    const { stats, received } = await replayAndCapture("exact.pcap", [fixture], { speed: { kind: "topspeed" } });
    expect(fixtureRecords.length).toBeGreaterThan(1000);
    expect(stats[0]!.packetsSent).toBe(fixtureRecords.length);
    expect(stats[0]!.skipped).toEqual({ oversize: 0, unsupported: 0 });
    expect(received.length).toBe(fixtureRecords.length);
    expect(hex(received)).toEqual(hex(fixtureRecords));
    expect(stats[0]!.timingErrorUs).toBeNull();
  });
});
