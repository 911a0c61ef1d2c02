import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { labUnavailableReason, tsharkSessions, withLab } from "@sluice/testlab";
import { afterEach, describe, expect, it } from "vitest";
import { Router } from "./router.js";
import { scratch, visible } from "./testing/spool-files.js";

const reason = labUnavailableReason();
if (reason) console.warn(`skipping the flow strategy tests: the traffic lab needs ${reason}`);

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

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
    // Real traffic: keep-alive HTTP connections that carry requests from the first file to the last, short
    // connections, UDP and ICMP in between; then cut into three files.
    const whole = join(dir, "whole.pcap");
    await withLab(async (lab) => {
      const capture = await lab.capture(whole);
      await Promise.all([
        lab.http({ requests: 400, responseBytes: [0, 16_000], concurrency: 4 }),
        lab.http({ requests: 60, responseBytes: [0, 4_000], concurrency: 2, ipv6: true }),
        lab.udp({ packets: 600, size: [40, 900], ratePps: 2000, receiver: "echo" }),
        lab.ping({ count: 10, intervalMs: 50 }),
        (async () => {
          for (let i = 0; i < 24; i++)
            await lab.http({ requests: 3, responseBytes: [0, 2_000], concurrency: 1 });
        })(),
      ]);
      await capture.stop();
    });
    const total = packetCount(whole);
    // Cut where the longest TCP connection is a third and two thirds through, so it spans all three files.
    const streams = new Map<string, number[]>();
    const fields = execFileSync(
      "tshark",
      ["-n", "-r", whole, "-Y", "tcp", "-T", "fields", "-e", "frame.number", "-e", "tcp.stream"],
      {
        encoding: "utf8",
        maxBuffer: 1 << 28,
      },
    );
    for (const line of fields.trim().split("\n")) {
      const [frame, stream] = line.split("\t");
      if (!streams.has(stream!)) streams.set(stream!, []);
      streams.get(stream!)!.push(Number(frame));
    }
    const longest = [...streams.values()].sort((x, y) => y.length - x.length)[0]!;
    const first = longest[Math.floor(longest.length / 3)]!;
    const second = longest[Math.floor((2 * longest.length) / 3)]!;
    const ranges = [`1-${first}`, `${first + 1}-${second}`, `${second + 1}-${total}`];
    const files = ranges.map((range, i) => {
      const name = `lab-20261126T10000${i}Z-00000${i + 1}.pcap`;
      execFileSync("editcap", ["-r", whole, join(spool, name), range]);
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
        for (const session of await tsharkSessions(join(dir, node, part))) {
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
    const perFile = await Promise.all(
      files.map(async (f) => new Set(await tsharkSessions(join(dir, "arkime", f)))),
    );
    const spanning = [...perFile[0]!].filter((s) => perFile.every((set) => set.has(s)));
    expect(spanning.length).toBeGreaterThan(0); // at least the longest connection
    // The spool holds neither the files nor their parts any more.
    expect(visible(spool)).toEqual([]);
    expect(existsSync(join(spool, ".parts")) ? readdirSync(join(spool, ".parts")) : []).toEqual([]);
  });
});
