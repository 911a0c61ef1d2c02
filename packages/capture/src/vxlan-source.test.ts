import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readCaptureSync } from "@sluice/pcap-format";
import { labUnavailableReason, missingTools, withLab } from "@sluice/testlab";
import { afterAll, describe, expect, it } from "vitest";
import { type SourcePacket, VxlanSource } from "./index.js";

const reason = labUnavailableReason() ?? missingTools("tcpdump", "ping");
if (reason) console.warn(`skipping VXLAN source tests: they need ${reason}`);

const dir = mkdtempSync(join(tmpdir(), "vxlan-source-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const inNs = (netns: string, command: string[]): void => {
  const result = spawnSync("ip", ["netns", "exec", netns, ...command], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`${command.join(" ")}: ${result.stderr}`);
};
/** Waits until `condition` holds: what the test sent has been captured. */
async function until(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !condition(); ) {
    if (Date.now() > deadline) throw new Error(`still waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
const hex = (packets: { data: Uint8Array }[]): string[] =>
  packets.map((p) => Buffer.from(p.data).toString("hex"));

describe.skipIf(reason !== null)("VXLAN source (AWS VPC Traffic Mirroring)", () => {
  it("yields the inner frames a mirroring sender encapsulates, byte for byte", async () => {
    await withLab(async (lab) => {
      // The sender: a kernel VXLAN interface in namespace a pointed at b, as a mirror session would be.
      const a = lab.a.netns;
      inNs(a, [
        "ip",
        "link",
        "add",
        "vx100",
        "type",
        "vxlan",
        "id",
        "100",
        "remote",
        lab.b.ipv4,
        "dstport",
        "4789",
        "dev",
        lab.a.iface,
      ]);
      inNs(a, ["sysctl", "-qw", "net.ipv6.conf.vx100.disable_ipv6=1"]); // only what the test sends
      // Checksum offload would leave the sender's own copy with a partial UDP checksum.
      inNs(a, ["ethtool", "-K", "vx100", "tx", "off"]);
      inNs(a, ["ip", "link", "set", "vx100", "up"]);
      inNs(a, ["ip", "addr", "add", "192.168.100.1/24", "dev", "vx100"]);
      inNs(a, ["ip", "neigh", "add", "192.168.100.2", "lladdr", "02:00:00:00:01:02", "dev", "vx100"]);
      const reference = join(dir, "sent.pcap");
      const tcpdump = spawn(
        "ip",
        [
          "netns",
          "exec",
          a,
          "tcpdump",
          "-i",
          "vx100",
          "-w",
          reference,
          "--immediate-mode",
          "-Z",
          "root",
          "-Q",
          "out",
        ],
        { stdio: ["ignore", "ignore", "pipe"] },
      );
      await new Promise<void>((resolve) =>
        tcpdump.stderr.on("data", (d) => String(d).includes("listening") && resolve()),
      );

      const source = new VxlanSource({ vni: 100, device: lab.b.iface, netns: lab.b.netns, name: "vpc" });
      const packets: SourcePacket[] = [];
      source.on("packet", (p) => packets.push({ ...p, data: Buffer.from(p.data) }));
      await source.start();
      const link = spawnSync("ip", ["-n", lab.b.netns, "-d", "link", "show", "sluice100"], {
        encoding: "utf8",
      }).stdout;
      expect(link).toMatch(/vxlan id 100 .*dstport 4789/);

      spawnSync("ip", [
        "netns",
        "exec",
        a,
        "ping",
        "-c",
        "5",
        "-i",
        "0.01",
        "-W",
        "0.2",
        "-s",
        "300",
        "192.168.100.2",
      ]);
      spawnSync(
        "ip",
        [
          "netns",
          "exec",
          a,
          "bash",
          "-c",
          "for i in 1 2 3 4 5 6 7 8; do echo datagram-$i > /dev/udp/192.168.100.2/5353; done",
        ],
        { stdio: "ignore" },
      );
      await until(() => packets.length >= 5 + 8, "the 5 pings and 8 datagrams");
      const stats = await source.stop();
      tcpdump.kill("SIGINT");
      await new Promise((r) => tcpdump.once("exit", r));

      const sent = readCaptureSync(readFileSync(reference)).packets;
      expect(sent.length).toBe(5 + 8);
      expect(hex(packets)).toEqual(hex(sent));
      expect(packets.every((p) => p.source === "vpc" && p.linkType === 1)).toBe(true);
      expect(stats.captured).toBe(sent.length);
      // Created by the source, removed by it.
      expect(spawnSync("ip", ["-n", lab.b.netns, "link", "show", "sluice100"]).status).not.toBe(0);
    });
  });

  it("applies BPF filters to the inner frames", async () => {
    await withLab(async (lab) => {
      const a = lab.a.netns;
      inNs(a, [
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
      ]);
      inNs(a, ["ip", "link", "set", "vx7", "up"]);
      inNs(a, ["ip", "addr", "add", "192.168.7.1/24", "dev", "vx7"]);
      inNs(a, ["ip", "neigh", "add", "192.168.7.2", "lladdr", "02:00:00:00:07:02", "dev", "vx7"]);
      const source = new VxlanSource({ vni: 7, device: lab.b.iface, netns: lab.b.netns, filter: "icmp" });
      const packets: SourcePacket[] = [];
      source.on("packet", (p) => packets.push(p));
      await source.start();
      spawnSync(
        "ip",
        ["netns", "exec", a, "bash", "-c", "for i in 1 2 3; do echo x > /dev/udp/192.168.7.2/9; done"],
        { stdio: "ignore" },
      );
      spawnSync("ip", ["netns", "exec", a, "ping", "-c", "3", "-i", "0.01", "-W", "0.2", "192.168.7.2"]);
      // The datagrams went first: by the third ping any of them the filter let through would be here too.
      await until(() => packets.length >= 3, "the 3 pings");
      await source.stop();
      expect(packets).toHaveLength(3);
      expect(packets.every((p) => p.data[23] === 1)).toBe(true); // IPv4 protocol field: ICMP
    });
  });

  it("reuses an existing VXLAN interface of the same VNI and leaves it in place", async () => {
    await withLab(async (lab) => {
      inNs(lab.b.netns, [
        "ip",
        "link",
        "add",
        "mirror42",
        "type",
        "vxlan",
        "id",
        "42",
        "dstport",
        "4789",
        "dev",
        lab.b.iface,
      ]);
      const source = new VxlanSource({ vni: 42, interfaceName: "mirror42", netns: lab.b.netns });
      await source.start();
      await source.stop();
      expect(spawnSync("ip", ["-n", lab.b.netns, "link", "show", "mirror42"]).status).toBe(0);
      const clash = new VxlanSource({ vni: 43, interfaceName: "mirror42", netns: lab.b.netns });
      await expect(clash.start()).rejects.toMatchObject({
        reason: "vxlan-failed",
        message: expect.stringMatching(/not VXLAN VNI 43/),
      });
    });
  });
});
