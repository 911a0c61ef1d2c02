import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { labUnavailableReason } from "./availability.js";
import { makeLabCapture } from "./make-lab-capture.js";
import { capinfos, missingTools, tsharkCount, tsharkFrames } from "./oracles.js";
import { namespacesOf, reportSkip } from "./test-helpers.js";

const reason = labUnavailableReason() ?? missingTools("tshark", "capinfos");
reportSkip(reason, "makeLabCapture tests");

describe.skipIf(reason !== null)("makeLabCapture", () => {
  const dir = mkdtempSync(join(tmpdir(), "testlab-make-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("makes a capture of at least the requested size with a realistic packet mix", async () => {
    const file = join(dir, "sized.pcap");
    const result = await makeLabCapture(file, { bytes: 5e6 });
    expect(result.path).toBe(file);
    expect(result.bytes).toBe(statSync(file).size);
    expect(result.bytes).toBeGreaterThanOrEqual(5e6);
    expect(result.droppedByKernel).toBe(0);
    expect((await capinfos(file)).packets).toBe(result.packets);
    const frames = await tsharkFrames(file);
    const small = frames.filter((f) => f.len < 200).length / frames.length;
    expect(small).toBeGreaterThan(0.15);
    expect(frames.filter((f) => f.len > 1400).length / frames.length).toBeGreaterThan(0.1);
    for (const filter of ["tcp && ip", "tcp && ipv6", "udp && ip", "udp && ipv6", "icmp", "icmpv6"]) {
      expect(await tsharkCount(file, filter), filter).toBeGreaterThan(0);
    }
    expect(namespacesOf(process.pid)).toEqual([]);
  });

  it("makes only the kinds of traffic asked for", async () => {
    const file = join(dir, "udp-only.pcap");
    await makeLabCapture(file, { bytes: 200e3, mix: { web: false, bulk: false, ping: false, ipv6: false } });
    // IPv6 still shows up as the kernel's own link-local ICMPv6 (router solicitations, MLD reports).
    expect(await tsharkCount(file, "tcp || (ipv6 && !icmpv6) || icmp.type == 8")).toBe(0);
    expect(await tsharkCount(file, "udp && !icmp")).toBeGreaterThan(100);
  });
});
