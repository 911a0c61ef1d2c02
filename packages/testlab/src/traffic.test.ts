import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { labUnavailableReason } from "./availability.js";
import { withLab } from "./lab.js";
import { capinfos, missingTools, tool, tsharkCount } from "./oracles.js";
import { reportSkip } from "./test-helpers.js";

const reason = labUnavailableReason() ?? missingTools("tshark", "capinfos");
reportSkip(reason, "traffic capture tests");

// Frames with a checksum of each status, with tshark's TCP/UDP/IPv4 checksum validation switched on (it
// is off by default). Offloads left on would show up as bad checksums.
async function checksums(file: string, status: "bad" | "good"): Promise<number> {
  const value = status === "bad" ? 0 : 1;
  const filter = `tcp.checksum.status == ${value} || udp.checksum.status == ${value} || ip.checksum.status == ${value}`;
  const prefs = ["tcp", "udp", "ip"].flatMap((p) => ["-o", `${p}.check_checksum:TRUE`]);
  const out = await tool("tshark", [
    "-n",
    ...prefs,
    "-r",
    file,
    "-Y",
    filter,
    "-T",
    "fields",
    "-e",
    "frame.number",
  ]);
  return out.split("\n").filter(Boolean).length;
}

const QUIET = "not arp and not ip6 multicast and not (icmp6 and ip6[40] >= 133 and ip6[40] <= 137)";

describe.skipIf(reason !== null)("traffic in the lab", () => {
  const dir = mkdtempSync(join(tmpdir(), "testlab-traffic-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("captures real TCP, UDP and ICMP over IPv4 and IPv6 with valid checksums", async () => {
    const file = join(dir, "mixed.pcap");
    const stats = await withLab(async (lab) => {
      // Without the kernel's own chatter (ARP, neighbour discovery, MLD, router solicitations), which comes
      // at any moment, also while tcpdump exits: so that every captured packet is ours and none may be lost.
      const capture = await lab.capture(file, { filter: QUIET });
      const http4 = await lab.http({ requests: 10, responseBytes: 5000 });
      const http6 = await lab.http({ requests: 20, responseBytes: [0, 20_000], ipv6: true });
      const udp = await lab.udp({ packets: 200, size: [40, 900] });
      const ping4 = await lab.ping({ count: 5, intervalMs: 5 });
      const ping6 = await lab.ping({ count: 5, intervalMs: 5, ipv6: true });
      const stats = await capture.stop();
      expect(http4).toEqual({ requests: 10, bytes: 50_000 });
      expect(http6.requests).toBe(20);
      expect(udp).toMatchObject({ packets: 200, received: null });
      expect([ping4.received, ping6.received]).toEqual([5, 5]);
      return stats;
    });
    // Every packet the kernel handed tcpdump is in the file, also the last second's.
    expect(stats.droppedByKernel).toBe(0);
    expect(stats.packets).toBe(stats.receivedByFilter);
    expect((await capinfos(file)).packets).toBe(stats.packets);
    expect(stats.packets).toBeGreaterThan(300);
    expect(await tsharkCount(file, "tcp && ip")).toBeGreaterThan(20);
    expect(await tsharkCount(file, "tcp && ipv6")).toBeGreaterThan(40);
    expect(await tsharkCount(file, "http.request")).toBe(30);
    expect(await tsharkCount(file, "udp && !icmp && !icmpv6")).toBe(200);
    expect(await tsharkCount(file, "icmp.type == 8")).toBe(5);
    expect(await tsharkCount(file, "icmp.type == 0")).toBe(5);
    expect(await tsharkCount(file, "icmpv6.type == 128")).toBe(5);
    expect(await tsharkCount(file, "icmp.type == 3")).toBeGreaterThan(0);
    expect(await checksums(file, "good")).toBe(stats.packets - (await tsharkCount(file, "icmpv6")));
    expect(await checksums(file, "bad")).toBe(0);
  });

  it("delivers UDP to an echo receiver and captures both directions", async () => {
    const file = join(dir, "echo.pcap");
    await withLab(async (lab) => {
      const capture = await lab.capture(file, { immediate: true, filter: "udp", on: "a" });
      const result = await lab.udp({ packets: 100, size: 300, receiver: "echo", ipv6: true, ratePps: 5000 });
      await capture.stop();
      expect(result).toEqual({ packets: 100, bytes: 30_000, received: 100 });
    });
    expect(await tsharkCount(file, "ipv6 && udp.length == 308")).toBe(200);
  });

  it("honours snaplen, nanosecond precision and the BPF filter", async () => {
    const file = join(dir, "snap.pcap");
    await withLab(async (lab) => {
      const capture = await lab.capture(file, { snaplen: 96, precision: "nano", filter: "tcp" });
      await lab.http({ requests: 4, responseBytes: 100_000 });
      await capture.stop();
    });
    const info = await tool("capinfos", ["-T", "-r", "-l", "-i", file]);
    const [, snaplen] = info.trim().split("\t");
    expect(Number(snaplen)).toBe(96);
    expect(await tool("capinfos", ["-M", "-a", "-r", file])).toMatch(/\.\d{9}/);
    expect(await tsharkCount(file, "frame.cap_len > 96")).toBe(0);
    expect(await tsharkCount(file, "!tcp")).toBe(0);
  });

  it("produces mixed traffic for a while and reports what it sent", async () => {
    const file = join(dir, "timed.pcap");
    const result = await withLab(async (lab) => {
      const capture = await lab.capture(file);
      const mixed = await lab.mixed({ durationMs: 1500 });
      await capture.stop();
      return mixed;
    });
    expect(result.seconds).toBeGreaterThanOrEqual(1.5);
    expect(result.http.requests).toBeGreaterThan(0);
    expect(result.udp.packets).toBeGreaterThan(0);
    expect(result.ping.received).toBeGreaterThan(0);
    expect(await tsharkCount(file, "ipv6 && tcp")).toBeGreaterThan(0);
    expect(await tsharkCount(file, "icmp || icmpv6")).toBeGreaterThan(0);
  });
});
