import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  cleanupStaleLabs,
  createLab,
  labUnavailableReason,
  makeLabCapture,
  tsharkCount,
  withLab,
} from "./index.js";
import { parseSize } from "./size.js";

const reason = labUnavailableReason();
if (reason) console.warn(`skipping traffic lab tests: they need ${reason}`);

const namespaces = (): string[] =>
  (spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout ?? "")
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "");

const dir = mkdtempSync(join(tmpdir(), "testlab-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(reason !== null)("traffic lab", () => {
  it("creates two namespaces joined by a veth pair and removes them on destroy", async () => {
    const lab = await createLab();
    expect(namespaces()).toEqual(expect.arrayContaining([lab.a.netns, lab.b.netns]));
    const pong = await lab.ping({ count: 2, intervalMs: 10 });
    expect(pong.received).toBe(2);
    await lab.destroy();
    expect(namespaces()).not.toContain(lab.a.netns);
    expect(namespaces()).not.toContain(lab.b.netns);
    await lab.destroy();
  });

  it("removes the lab when the callback throws", async () => {
    let names: string[] = [];
    await expect(
      withLab(async (lab) => {
        names = [lab.a.netns, lab.b.netns];
        lab.spawn(lab.a, "sleep", ["60"]);
        throw new Error("test failure inside the lab");
      }),
    ).rejects.toThrow("test failure inside the lab");
    expect(names).toHaveLength(2);
    for (const name of names) expect(namespaces()).not.toContain(name);
  });

  it("captures real TCP, UDP and ICMP over IPv4 and IPv6", async () => {
    const file = join(dir, "mixed.pcap");
    await withLab(async (lab) => {
      const capture = await lab.capture(file, { immediate: true });
      const http = await lab.http({ requests: 20, responseBytes: [100, 20_000], ipv6: true });
      await lab.http({ requests: 5, responseBytes: 5000 });
      const udp = await lab.udp({ packets: 200, size: [40, 900] });
      await lab.ping({ count: 5, intervalMs: 5 });
      await lab.ping({ count: 5, intervalMs: 5, ipv6: true });
      const stats = await capture.stop();
      expect(http.requests).toBe(20);
      expect(udp.packets).toBe(200);
      expect(stats.packets).toBeGreaterThan(300);
      expect(stats.droppedByKernel).toBe(0);
      expect(stats.packets).toBe(stats.receivedByFilter);
    });
    expect(await tsharkCount(file, "tcp && ip")).toBeGreaterThan(10);
    expect(await tsharkCount(file, "tcp && ipv6")).toBeGreaterThan(40);
    expect(await tsharkCount(file, "udp && !icmp && !icmpv6")).toBe(200);
    expect(await tsharkCount(file, "icmp.type == 8")).toBe(5);
    expect(await tsharkCount(file, "icmpv6.type == 128")).toBe(5);
  });

  it("makes a capture of at least the requested size", async () => {
    const file = join(dir, "sized.pcap");
    const result = await makeLabCapture(file, { bytes: 5e6 });
    expect(statSync(file).size).toBeGreaterThanOrEqual(5e6);
    expect(result.packets).toBeGreaterThan(3000);
    expect(namespaces().filter((n) => n.startsWith(`sluice-lab-${process.pid}-`))).toEqual([]);
  });

  it("removes namespaces left by a process that died", () => {
    const dead = spawnSync("true").pid!;
    const stale = `sluice-lab-${dead}-0-a`;
    spawnSync("ip", ["netns", "add", stale]);
    expect(namespaces()).toContain(stale);
    expect(cleanupStaleLabs()).toContain(stale);
    expect(namespaces()).not.toContain(stale);
  });
});

describe("parseSize", () => {
  it("reads decimal sizes with K, M and G", () => {
    expect([parseSize("500M"), parseSize("2G"), parseSize("64k"), parseSize("1234")]).toEqual([
      500e6, 2e9, 64e3, 1234,
    ]);
    expect(() => parseSize("lots")).toThrow(/not a size/);
  });
});
