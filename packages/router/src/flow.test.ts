import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { labUnavailableReason, makeLabCapture } from "@sluice/testlab";
import { afterEach, describe, expect, it } from "vitest";
import { Router } from "./router.js";
import { scratch, visible } from "./testing/spool-files.js";

const reason = labUnavailableReason();
if (reason) console.warn(`skipping the flow strategy tests: the traffic lab needs ${reason}`);

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Direction-free TCP/UDP 5-tuples of every packet, read by tshark (the oracle, not our decoder). */
function sessions(file: string): string[] {
  const out = execFileSync(
    "tshark",
    [
      "-r",
      file,
      "-T",
      "fields",
      "-E",
      "separator=,",
      "-e",
      "ip.src",
      "-e",
      "ip.dst",
      "-e",
      "ipv6.src",
      "-e",
      "ipv6.dst",
      "-e",
      "ip.proto",
      "-e",
      "ipv6.nxt",
      "-e",
      "tcp.srcport",
      "-e",
      "tcp.dstport",
      "-e",
      "udp.srcport",
      "-e",
      "udp.dstport",
    ],
    { encoding: "utf8", maxBuffer: 1 << 28 },
  );
  return out
    .trim()
    .split("\n")
    .filter((line) => line.length > 0 && !line.startsWith(",,,,")) // IP packets only (ARP goes by MAC pair)
    .map((line) => {
      const [s4, d4, s6, d6, p4, p6, ts, td, us, ud] = line.split(",");
      const src = `${s4 || s6}:${ts || us}`;
      const dst = `${d4 || d6}:${td || ud}`;
      return `${p4 || p6} ${[src, dst].sort().join(" ")}`;
    });
}

function packetCount(file: string): number {
  return Number(
    /Number of packets:\s+(\d+)/.exec(execFileSync("capinfos", ["-c", file], { encoding: "utf8" }))?.[1],
  );
}

describe.skipIf(reason !== null)("the flow pool strategy", () => {
  it("keeps every session spanning three rotated files on one node, and gives alone consumers the whole files", async () => {
    const { dir, remove } = scratch();
    cleanups.push(remove);
    const spool = join(dir, "spool");
    mkdirSync(spool);
    const nodes = ["n1", "n2", "n3"];
    for (const folder of [...nodes, "arkime"]) mkdirSync(join(dir, folder));
    // Real traffic: keep-alive HTTP sessions that outlive a file, UDP, ICMP; cut into three files.
    const whole = join(dir, "whole.pcap");
    await makeLabCapture(whole, { bytes: 3e6 });
    const total = packetCount(whole);
    execFileSync("editcap", ["-c", String(Math.ceil(total / 3)), whole, join(dir, "cut.pcap")]);
    const cuts = readdirSync(dir)
      .filter((n) => n.startsWith("cut"))
      .sort();
    expect(cuts).toHaveLength(3);
    const files = cuts.map((cut, i) => {
      const name = `lab-20261126T10000${i}Z-00000${i + 1}.pcap`;
      execFileSync("mv", [join(dir, cut), join(spool, name)]);
      return name;
    });
    const wholeFiles = files.map((f) => readFileSync(join(spool, f)));

    const router = new Router({
      journalDir: join(dir, "journal"),
      healthIntervalMs: 50,
      pools: [
        { name: "sensors", strategy: "flow", nodes: nodes.map((n) => ({ name: n, path: join(dir, n) })) },
      ],
      alone: [{ name: "arkime", path: join(dir, "arkime") }],
    });
    cleanups.push(() => router.stop(5000));
    await router.start();
    for (const file of files) await router.submit(join(spool, file));
    await router.idle();

    // Alone: the three files, byte-identical.
    expect(visible(join(dir, "arkime"))).toEqual(files);
    for (const [i, file] of files.entries())
      expect(readFileSync(join(dir, "arkime", file)).equals(wholeFiles[i]!)).toBe(true);
    // Pool: parts named after the file and the node; every packet in exactly one part.
    let parts = 0;
    let packets = 0;
    const owner = new Map<string, Set<string>>();
    for (const node of nodes) {
      for (const part of visible(join(dir, node))) {
        expect(files.some((f) => part === f.replace(".pcap", `-${node}.pcap`))).toBe(true);
        parts++;
        packets += packetCount(join(dir, node, part));
        for (const session of sessions(join(dir, node, part))) {
          if (!owner.has(session)) owner.set(session, new Set());
          owner.get(session)!.add(node);
        }
      }
    }
    expect(packets).toBe(total);
    expect(parts).toBeGreaterThanOrEqual(3 * 2);
    // Every session — including the keep-alive ones in all three files — reached exactly one node.
    expect(owner.size).toBeGreaterThan(20);
    const split = [...owner].filter(([, where]) => where.size > 1);
    expect(split).toEqual([]);
    // Several sessions span all three files, and each of those stayed whole on its node.
    const perFile = files.map((f) => new Set(sessions(join(dir, "arkime", f))));
    const spanning = [...perFile[0]!].filter((s) => perFile.every((set) => set.has(s)));
    expect(spanning.length).toBeGreaterThan(0);
    // The spool holds neither the files nor their parts any more.
    expect(visible(spool)).toEqual([]);
    expect(existsSync(join(spool, ".parts")) ? readdirSync(join(spool, ".parts")) : []).toEqual([]);
    expect(statSync(join(dir, "journal")).isDirectory()).toBe(true);
  });
});
