import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readCaptureSync } from "@sluice/pcap-format";
import { labUnavailableReason, makeLabCapture, missingTools, withLab } from "@sluice/testlab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, type MasterProcess, runMaster } from "./testing/master-process.js";

const built = existsSync(CLI);
const reason = !built
  ? `${CLI} is not built`
  : (labUnavailableReason() ?? missingTools("tcpreplay", "tcpdump"));
if (reason) console.warn(`skipping sluice-master reload tests: they need ${reason}`);

let dir = "";
let capture = "";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "master-reload-"));
  capture = join(dir, "lab.pcap");
  if (!reason) await makeLabCapture(capture, { bytes: 2e6 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Each frame's time (µs) and the sha1 of its bytes. The time is only for telling which filter was in
 * force: tcpdump and the addon round the kernel's nanoseconds differently, up to 1 µs apart.
 */
function frameKeys(path: string): { us: number; key: string }[] {
  return readCaptureSync(readFileSync(path)).packets.map((p) => ({
    us: p.seconds * 1e6 + Math.floor(p.nanoseconds / 1000),
    key: createHash("sha1").update(p.data).digest("hex"),
  }));
}

/** How many of each key, minus how many of each in `b`: what `a` has that `b` lacks. */
function surplus(a: string[], b: string[]): string[] {
  const counts = new Map<string, number>();
  for (const k of a) counts.set(k, (counts.get(k) ?? 0) + 1);
  for (const k of b) counts.set(k, (counts.get(k) ?? 0) - 1);
  return [...counts].filter(([, n]) => n > 0).flatMap(([k, n]) => Array<string>(n).fill(k));
}

/** The frames of `path` that `filter` (tcpdump's BPF) matches. */
function matching(path: string, filter: string, out: string): Set<string> {
  execFileSync("tcpdump", ["-r", path, "-w", out, filter], { stdio: "ignore" });
  return new Set(frameKeys(out).map((f) => f.key));
}

function hangUpChildren(pid: number): void {
  const children = spawnSync("pgrep", ["-P", String(pid)], { encoding: "utf8" }).stdout.split("\n");
  for (const child of children.filter(Boolean)) process.kill(Number(child), "SIGHUP");
}

describe.skipIf(reason !== null)("sluice-master run: reload", () => {
  it("restarts a capture whose filter changed without a gap: every frame under the filter in force is in exactly one file", async () => {
    await withLab(async (lab) => {
      // No IPv6 chatter of the kernels' own: the reference then holds only what the test sent.
      for (const ns of [lab.a.netns, lab.b.netns])
        spawnSync("ip", ["netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
      const root = join(dir, "gapless");
      for (const f of ["n1", "arkime"]) mkdirSync(join(root, f), { recursive: true });
      const at = (n: string) => join(root, n);
      const filters = ["udp or tcp", "ip", "udp or tcp", "ip", "udp or tcp", "ip"];
      const config = (filter: string) =>
        writeFileSync(
          at("master.json"),
          JSON.stringify({
            spool: at("spool"),
            sources: [
              { type: "interface", name: "span", interface: lab.b.iface, netns: lab.b.netns, filter },
            ],
            rotation: { seconds: 2 },
            pools: [{ name: "p", nodes: [{ name: "n1", path: at("n1") }] }],
            alone: [{ name: "arkime", path: at("arkime") }],
          }),
        );
      config(filters[0]!);
      const reference = await lab.capture(at("reference.pcap"), { on: "b" });
      const master: MasterProcess = runMaster(at("master.json"));
      await master.event("source-started");
      // ≈40 Mbit/s of web, bulk, UDP, ping, IPv4 and IPv6 frames, each loop's addresses new (unique frames).
      const replay = lab.exec(lab.a, "tcpreplay", [
        "-q",
        "--mbps=40",
        "--loop=0",
        "--unique-ip",
        "-i",
        lab.a.iface,
        capture,
      ]);
      await sleep(700);
      for (let i = 1; i < filters.length; i++) {
        config(filters[i]!);
        // As `kill -HUP %1` in a shell does: the whole process group, the capture child too.
        hangUpChildren(master.child.pid!);
        master.child.kill("SIGHUP");
        await master.event("source-reloaded", () => master.count("source-reloaded") === i, 30_000);
        await sleep(400);
      }
      await replay.stop("SIGINT");
      await sleep(300);
      master.child.kill("SIGTERM");
      expect(await master.exited).toBe(0);
      const stats = await reference.stop();
      expect(stats.droppedByKernel).toBe(0);

      const reloads = master.events.filter((e) => e["event"] === "source-reloaded");
      expect(reloads).toHaveLength(filters.length - 1);
      const cuts = reloads.map((e) => Number(e["cutUs"]));
      // What was captured under each filter: [cut i-1, cut i) is filter i-1's time.
      const ref = frameKeys(reference.path);
      const allowed = filters.map((filter, i) => matching(reference.path, filter, at(`ref-${i}.pcap`)));
      // tcpdump and the addon round a nanosecond stamp to microseconds differently (by up to 1 µs): a
      // frame within 1 µs of a cut that only one of the filters takes may fall on either side of it.
      const near = (us: number) => cuts.some((cut) => Math.abs(us - cut) <= 1);
      const ambiguous: string[] = [];
      const expected: string[] = [];
      filters.forEach((_, i) => {
        const from = i === 0 ? 0 : cuts[i - 1]!;
        const until = i === cuts.length ? Number.POSITIVE_INFINITY : cuts[i]!;
        for (const f of ref) {
          if (f.us < from || f.us >= until) continue;
          if (near(f.us) && !allowed.every((a) => a.has(f.key))) ambiguous.push(f.key);
          else if (allowed[i]!.has(f.key)) expected.push(f.key);
        }
      });
      // Traffic flowed across every cut: each reload had frames on both sides within a second.
      for (const cut of cuts) {
        expect(ref.some((f) => f.us < cut && f.us > cut - 1e6)).toBe(true);
        expect(ref.some((f) => f.us >= cut && f.us < cut + 1e6)).toBe(true);
      }

      // Nothing unfinished: no hidden capture file, no .partial (the master's released lock stays there).
      const ready = readdirSync(at("spool/ready")).filter((n) => !n.startsWith(".sluice-lock."));
      expect(ready.filter((n) => n.startsWith(".") || n.endsWith(".partial"))).toEqual([]);
      // Every published file once, wherever it is now: delivered, or still waiting in the spool.
      const published = new Map<string, string>();
      for (const folder of ["arkime", "n1", "spool/ready"])
        for (const name of readdirSync(at(folder)).filter((n) => /^[^.].*\.pcap$/.test(n)))
          if (!published.has(name)) published.set(name, join(at(folder), name));
      const all = [...published.values()].flatMap((path) => frameKeys(path).map((k) => k.key));
      // An ambiguous frame may be in the files once or not at all; a second copy stays a surplus below.
      const got = surplus(all, ambiguous);
      // Nothing lost, nothing twice (a frame in two files would be a surplus of ours).
      expect(surplus(expected, got)).toEqual([]);
      expect(surplus(got, expected)).toEqual([]);
      expect(expected.length).toBeGreaterThan(5000);
      for (const reload of reloads) expect(reload).toMatchObject({ source: "span", type: "interface" });
      expect(master.count("source-stopped")).toBe(filters.length); // the old capture of each reload, and the last
    });
  }, 180_000);
});
