#!/usr/bin/env node
// @sluice/replayer vs tcpreplay on a veth lab, back to back on the same input with the same consumer
// (tcpdump on the peer end, 64 MiB kernel buffer):
//   1. topspeed on a lab capture of BENCH_CAPTURE_MB (default 150) MB: packets/s of each, packets the
//      peer's tcpdump received, and the ratio ours / tcpreplay's.
//   2. original speed (1x) on a short capture (~3 s of UDP echo, HTTP and ping): the error of every
//      inter-packet gap, as the peer's kernel timestamps saw it, against the file's gap (p50/p99); ours
//      with timer "spin" (as tcpreplay waits) and with timer "sleep".
// Every figure is the median of BENCH_RUNS (default 3) runs. Our replayer runs as its own process
// (bench/replay-once.mjs), like tcpreplay.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const dir = process.env.SLUICE_BENCH_DIR ?? "/tmp/sluice-bench";
const sizeMB = Number(process.env.BENCH_CAPTURE_MB ?? 150);
const runs = Number(process.env.BENCH_RUNS ?? 3);
// BENCH_PARTS=1x (or topspeed) runs one of the two comparisons.
const parts = (process.env.BENCH_PARTS ?? "topspeed,1x").split(",");
const big = join(dir, `lab-${sizeMB}M.pcap`);
const short = join(dir, "replayer-1x-short.pcap");
const once = fileURLToPath(new URL("./replay-once.mjs", import.meta.url));

const {
  labUnavailableReason,
  makeLabCapture,
  makePacedCapture,
  createLab,
  gapErrorsUs,
  missingTools,
  percentile,
} = await import("@sluice/testlab");
const { readCaptureSync } = await import("@sluice/pcap-format");
const reason = labUnavailableReason() ?? missingTools("tcpreplay", "tcpdump");
if (reason) {
  console.log(`replayer bench skipped: it needs ${reason}`);
  process.exit(0);
}
if (!existsSync(fileURLToPath(new URL("../dist/inject-child.js", import.meta.url)))) {
  console.log("replayer bench: build first (npx turbo run build --filter=@sluice/replayer...)");
  process.exit(1);
}
mkdirSync(dir, { recursive: true });
if (!existsSync(big)) {
  console.log(`making a ${sizeMB} MB lab capture in ${big}...`);
  await makeLabCapture(big, { bytes: sizeMB * 1e6 });
}

const median = (values) => {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const records = (path) => readCaptureSync(new Uint8Array(readFileSync(path))).packets;

if (!existsSync(short)) {
  console.log("making a short capture for the 1x comparison...");
  await makePacedCapture(short);
}

const lab = await createLab();
try {
  // Silent kernels: no IPv6 chatter; and frames either end sends itself are left out of the peer capture.
  const macs = [];
  for (const end of [lab.a, lab.b]) {
    spawnSync("ip", ["netns", "exec", end.netns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
    macs.push((await lab.run(end, "cat", [`/sys/class/net/${end.iface}/address`])).trim());
  }
  const filter = macs.map((mac) => `not ether src ${mac}`).join(" and ");

  // pps: packets over the tool's own first-to-last-send time (tcpreplay's "Rated"); wallPps: packets over
  // the whole command, process start and file opening included.
  const ours = (speed, file, timer = "spin") => {
    const started = performance.now();
    const run = spawnSync(process.execPath, [once, lab.a.iface, lab.a.netns, speed, file], {
      encoding: "utf8",
      env: { ...process.env, BENCH_TIMER: timer },
    });
    const wallMs = performance.now() - started;
    if (run.status !== 0) throw new Error(`replay-once failed: ${run.stderr}`);
    const [stats] = JSON.parse(run.stdout);
    return {
      sent: stats.packetsSent,
      pps: Math.round(stats.packetsSent / (stats.sendingMs / 1000)),
      wallPps: Math.round(stats.packetsSent / (wallMs / 1000)),
    };
  };
  const tcpreplay = (speed, file) => {
    const started = performance.now();
    const run = spawnSync(
      "ip",
      ["netns", "exec", lab.a.netns, "tcpreplay", "-i", lab.a.iface, ...speed, file],
      {
        encoding: "utf8",
      },
    );
    const wallMs = performance.now() - started;
    if (run.status !== 0) throw new Error(`tcpreplay failed: ${run.stderr}`);
    const sent = Number(/Actual: (\d+) packets/.exec(run.stdout)?.[1]);
    return {
      sent,
      pps: Number(/Rated: [\d.]+ Bps, [\d.]+ Mbps, ([\d.]+) pps/.exec(run.stdout)?.[1]),
      wallPps: Math.round(sent / (wallMs / 1000)),
    };
  };
  const peer = async (name, replay) => {
    const path = join(dir, name);
    const capture = await lab.capture(path, { on: "b", filter, precision: "nano" });
    const result = replay();
    const counters = await capture.stop();
    return { ...result, received: counters.packets, droppedByKernel: counters.droppedByKernel, path };
  };

  // 1. topspeed
  if (parts.includes("topspeed")) {
    const inputPackets = records(big).length;
    const top = { ours: [], tcpreplay: [] };
    for (let i = 0; i < runs; i++) {
      const a = await peer("replayer-top-ours.pcap", () => ours("topspeed", big));
      rmSync(a.path, { force: true });
      const b = await peer("replayer-top-tcpreplay.pcap", () => tcpreplay(["--topspeed"], big));
      rmSync(b.path, { force: true });
      top.ours.push(a);
      top.tcpreplay.push(b);
      console.log(
        `  run ${i + 1}: ours ${a.pps} pps (wall ${a.wallPps}, peer got ${a.received}), tcpreplay ${b.pps} pps (wall ${b.wallPps}, peer got ${b.received})`,
      );
    }
    const summary = (list) => ({
      pps: Math.round(median(list.map((r) => r.pps))),
      wallPps: Math.round(median(list.map((r) => r.wallPps))),
      sent: median(list.map((r) => r.sent)),
      received: median(list.map((r) => r.received)),
    });
    const topOurs = summary(top.ours);
    const topPeer = summary(top.tcpreplay);
    console.log(`\ntopspeed, ${big} (${inputPackets} packets), median of ${runs}:`);
    const line = (name, r) =>
      `  ${name.padEnd(17)} ${r.pps} pps sending, ${r.wallPps} pps wall-clock   sent ${r.sent}   peer tcpdump received ${r.received}`;
    console.log(line("@sluice/replayer", topOurs));
    console.log(line("tcpreplay", topPeer));
    console.log(
      `  ratio ours/tcpreplay: ${(topOurs.pps / topPeer.pps).toFixed(2)} (sending pps), ${(topOurs.wallPps / topPeer.wallPps).toFixed(2)} (wall-clock pps), ${(topOurs.received / topPeer.received).toFixed(2)} (received)`,
    );
  }
  // 2. original speed: gap error seen at the peer
  if (parts.includes("1x")) {
    const sent = records(short);
    const gapErrors = (path) => {
      const got = records(path);
      if (got.length !== sent.length) return { count: got.length, p50: Number.NaN, p99: Number.NaN };
      const errors = gapErrorsUs(sent, got);
      return { count: got.length, p50: percentile(errors, 0.5), p99: percentile(errors, 0.99) };
    };
    // Ours with both timers: "spin" busy-waits like tcpreplay, "sleep" (the daemon's default) does not.
    const paced = { spin: [], sleep: [], tcpreplay: [] };
    const line = (e) => `p50 ${e.p50?.toFixed(1)} µs p99 ${e.p99?.toFixed(1)} µs (${e.count} pkts)`;
    for (let i = 0; i < runs; i++) {
      const a = gapErrors((await peer("replayer-1x-ours.pcap", () => ours("original", short, "spin"))).path);
      const b = gapErrors((await peer("replayer-1x-tcpreplay.pcap", () => tcpreplay([], short))).path);
      const c = gapErrors(
        (await peer("replayer-1x-sleep.pcap", () => ours("original", short, "sleep"))).path,
      );
      paced.spin.push(a);
      paced.tcpreplay.push(b);
      paced.sleep.push(c);
      console.log(`  1x run ${i + 1}: spin ${line(a)}, tcpreplay ${line(b)}, sleep ${line(c)}`);
    }
    const gaps = (list) => ({ p50: median(list.map((e) => e.p50)), p99: median(list.map((e) => e.p99)) });
    const go = gaps(paced.spin);
    const gt = gaps(paced.tcpreplay);
    const gs = gaps(paced.sleep);
    console.log(
      `\noriginal speed (1x), ${short} (${sent.length} packets), gap error at the peer, median of ${runs}:`,
    );
    console.log(`  @sluice/replayer, timer spin   p50 ${go.p50.toFixed(1)} µs   p99 ${go.p99.toFixed(1)} µs`);
    console.log(`  tcpreplay                      p50 ${gt.p50.toFixed(1)} µs   p99 ${gt.p99.toFixed(1)} µs`);
    console.log(`  @sluice/replayer, timer sleep  p50 ${gs.p50.toFixed(1)} µs   p99 ${gs.p99.toFixed(1)} µs`);
    console.log(
      `  ratio spin/tcpreplay: p50 ${(go.p50 / gt.p50).toFixed(2)}, p99 ${(go.p99 / gt.p99).toFixed(2)}; sleep/tcpreplay p99 ${(gs.p99 / gt.p99).toFixed(2)}`,
    );
  }
} finally {
  await lab.destroy();
}
