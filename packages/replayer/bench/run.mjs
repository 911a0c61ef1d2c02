#!/usr/bin/env node
// @sluice/replayer vs tcpreplay on a veth lab, back to back on the same input with the same consumer
// (tcpdump on the peer end, 64 MiB kernel buffer). Ours runs twice per round: with the packet-io addon
// ("native", a whole batch per sendmmsg) and with node_pcap ("pcap", the fallback, one pcap_inject per
// frame).
//   1. topspeed on a lab capture of BENCH_CAPTURE_MB (default 150) MB: packets/s of each, packets the
//      peer's tcpdump received, and the ratio ours / tcpreplay's.
//   2. original speed (1x) on a short capture (~3 s of UDP echo, HTTP and ping): the error of every
//      inter-packet gap, as the peer's kernel timestamps saw it, against the file's gap (p50/p99); ours
//      with timer "spin" (as tcpreplay waits) on both paths, and with timer "sleep" on the addon.
// Every figure is the median of BENCH_RUNS runs (default 3 at topspeed, 6 at 1x), with the spread
// (lowest–highest) beside it. Our replayer runs as its own process (bench/replay-once.mjs), like tcpreplay.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const dir = process.env.SLUICE_BENCH_DIR ?? "/tmp/sluice-bench";
const sizeMB = Number(process.env.BENCH_CAPTURE_MB ?? 150);
const runsOf = (part) => Number(process.env.BENCH_RUNS ?? (part === "1x" ? 6 : 3));
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
  median,
  missingTools,
  percentile,
  spread: spreadOf,
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

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
const spread = (values) => spreadOf(values, 1);
const records = (path) => readCaptureSync(new Uint8Array(readFileSync(path))).packets;

if (!existsSync(short)) {
  console.log("making a short capture for the 1x comparison...");
  await makePacedCapture(short);
}

const lab = await createLab();
try {
  // Silent kernels: no IPv6 chatter; and frames either end sends itself are left out of the peer capture.
  const filter = await lab.quietFilter();

  // pps: packets over the tool's own first-to-last-send time (tcpreplay's "Rated"); wallPps: packets over
  // the whole command, process start and file opening included.
  const ours = (speed, file, timer = "spin", packetIo = "native") => {
    const started = performance.now();
    const run = spawnSync(process.execPath, [once, lab.a.iface, lab.a.netns, speed, file], {
      encoding: "utf8",
      env: { ...process.env, BENCH_TIMER: timer, BENCH_PACKET_IO: packetIo },
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

  console.log(`load average at start: ${load()}`);
  // 1. topspeed
  if (parts.includes("topspeed")) {
    const runs = runsOf("topspeed");
    const inputPackets = records(big).length;
    const contenders = [
      ["@sluice/replayer, addon", () => ours("topspeed", big, "spin", "native")],
      ["@sluice/replayer, node_pcap", () => ours("topspeed", big, "spin", "pcap")],
      ["tcpreplay --topspeed", () => tcpreplay(["--topspeed"], big)],
    ];
    const top = contenders.map(() => []);
    for (let i = 0; i < runs; i++) {
      const line = [];
      for (const [c, [name, fn]] of contenders.entries()) {
        const r = await peer(`replayer-top-${c}.pcap`, fn);
        rmSync(r.path, { force: true });
        top[c].push(r);
        line.push(`${name} ${r.pps} pps (wall ${r.wallPps}, peer got ${r.received})`);
      }
      console.log(`  run ${i + 1}: ${line.join("; ")}`);
    }
    const summary = (list) => ({
      pps: Math.round(median(list.map((r) => r.pps))),
      ppsSpread: spread(list.map((r) => r.pps)),
      wallPps: Math.round(median(list.map((r) => r.wallPps))),
      wallSpread: spread(list.map((r) => r.wallPps)),
      sent: median(list.map((r) => r.sent)),
      received: median(list.map((r) => r.received)),
    });
    const sums = top.map(summary);
    const peerSum = sums.at(-1);
    console.log(`\ntopspeed, ${big} (${inputPackets} packets), median of ${runs} (spread):`);
    for (const [c, [name]] of contenders.entries()) {
      const r = sums[c];
      console.log(
        `  ${name.padEnd(30)} ${r.pps} pps sending (${r.ppsSpread}), ${r.wallPps} pps wall-clock (${r.wallSpread})   peer tcpdump received ${r.received}` +
          (c < contenders.length - 1
            ? `   ratio to tcpreplay ${(r.pps / peerSum.pps).toFixed(2)} sending, ${(r.wallPps / peerSum.wallPps).toFixed(2)} wall`
            : ""),
      );
    }
  }
  // 2. original speed: gap error seen at the peer
  if (parts.includes("1x")) {
    const runs = runsOf("1x");
    const sent = records(short);
    const gapErrors = (path) => {
      const got = records(path);
      if (got.length !== sent.length) return { count: got.length, p50: Number.NaN, p99: Number.NaN };
      const errors = gapErrorsUs(sent, got);
      return { count: got.length, p50: percentile(errors, 0.5), p99: percentile(errors, 0.99) };
    };
    // Ours with both timers: "spin" busy-waits like tcpreplay, "sleep" (the daemon's default) does not.
    const contenders = [
      ["tcpreplay", () => tcpreplay([], short)],
      ["@sluice/replayer, addon, timer spin", () => ours("original", short, "spin", "native")],
      ["@sluice/replayer, node_pcap, timer spin", () => ours("original", short, "spin", "pcap")],
      ["@sluice/replayer, addon, timer sleep", () => ours("original", short, "sleep", "native")],
    ];
    const paced = contenders.map(() => []);
    const line = (e) => `p50 ${e.p50?.toFixed(1)} µs p99 ${e.p99?.toFixed(1)} µs (${e.count} pkts)`;
    for (let i = 0; i < runs; i++) {
      const parts = [];
      for (const [c, [name, fn]] of contenders.entries()) {
        const e = gapErrors((await peer(`replayer-1x-${c}.pcap`, fn)).path);
        paced[c].push(e);
        parts.push(`${name} ${line(e)}`);
      }
      console.log(`  1x run ${i + 1}: ${parts.join("; ")}`);
    }
    const gaps = (list) => ({
      p50: median(list.map((e) => e.p50)),
      p99: median(list.map((e) => e.p99)),
      p99Spread: spread(list.map((e) => e.p99)),
    });
    const sums = paced.map(gaps);
    const t = sums[0];
    console.log(
      `\noriginal speed (1x), ${short} (${sent.length} packets), gap error at the peer, median of ${runs} (spread of p99):`,
    );
    for (const [c, [name]] of contenders.entries()) {
      const g = sums[c];
      console.log(
        `  ${name.padEnd(40)} p50 ${g.p50.toFixed(1)} µs   p99 ${g.p99.toFixed(1)} µs (${g.p99Spread})` +
          (c > 0 ? `   p99 ratio to tcpreplay ${(g.p99 / t.p99).toFixed(2)}` : ""),
      );
    }
  }
  console.log(`load average at end: ${load()}`);
} finally {
  await lab.destroy();
}
