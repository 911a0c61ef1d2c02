#!/usr/bin/env node
// @sluice/router against cp: route N files of M MB (default 1000 x 10 MB) to a pool of 3 nodes plus 2 alone
// folders — on one filesystem, and from the disk spool to tmpfs destinations — and cp the same files to the
// same folders in the same run. Files go in batches (100 by default) so tmpfs holds one batch at a time; the
// folders are emptied between batches, untimed. Prints throughput (MB/s of files handed off), the ratio
// (ours / cp, target >= 0.9) and the hand-off latency p50/p99 (submit to published) of a paced run.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { PcapWriter, readPackets } from "@sluice/pcap-format";
import { Router } from "@sluice/router";

const dir = process.env.SLUICE_BENCH_DIR ?? "/tmp/sluice-bench";
const files = Number(process.env.BENCH_ROUTER_FILES ?? 1000);
const fileMB = Number(process.env.BENCH_ROUTER_MB ?? 10);
const batch = Number(process.env.BENCH_ROUTER_BATCH ?? 100);
const runs = Number(process.env.BENCH_RUNS ?? 3);
const lab = join(dir, `lab-${process.env.BENCH_CAPTURE_MB ?? 600}M.pcap`);
const work = join(dir, "router");
const input = join(work, `input-${files}x${fileMB}M`);
const tmpfs = join(work, "tmpfs");
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const percentile = (xs, p) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

async function makeInput() {
  if (existsSync(input) && readdirSync(input).length === files) return;
  rmSync(input, { recursive: true, force: true });
  mkdirSync(input, { recursive: true });
  if (!existsSync(lab)) {
    const { labUnavailableReason, makeLabCapture } = await import("@sluice/testlab");
    const reason = labUnavailableReason();
    if (reason) throw new Error(`the lab capture needs ${reason}`);
    console.log(`making ${lab}...`);
    await makeLabCapture(lab, { bytes: 600e6 });
  }
  // Distinct real pcaps of about fileMB cut from the lab capture, then copied up to `files`.
  console.log(`making ${files} files of ${fileMB} MB in ${input}...`);
  const distinct = [];
  let writer = null;
  let size = 0;
  for await (const packet of readPackets(lab)) {
    if (writer === null) {
      const path = join(
        input,
        `eth1-20261122T10${String(distinct.length).padStart(4, "0")}Z-${String(distinct.length + 1).padStart(6, "0")}.pcap`,
      );
      distinct.push(path);
      writer = PcapWriter.create(path, { linkType: packet.linkType, snaplen: 65535 });
      size = 24;
    }
    writer.writePacket(packet);
    size += 16 + packet.data.length;
    if (size >= fileMB * 1e6) {
      await writer.close();
      writer = null;
      if (distinct.length === files) break;
    }
  }
  if (writer) await writer.close();
  for (let i = distinct.length; i < files; i++) {
    const name = `eth1-20261122T${String(11 + Math.floor(i / 3600)).padStart(2, "0")}${String(i % 3600).padStart(4, "0")}Z-${String(i + 1).padStart(6, "0")}.pcap`;
    execFileSync("cp", [distinct[i % distinct.length], join(input, name)]);
  }
}

function folders(root) {
  const names = ["node01", "node02", "node03", "arkime", "storage"];
  return Object.fromEntries(names.map((n) => [n, join(root, n)]));
}

function reset(dest) {
  for (const path of Object.values(dest)) {
    rmSync(path, { recursive: true, force: true });
    mkdirSync(path, { recursive: true });
  }
}

function batches() {
  const names = readdirSync(input).sort();
  const out = [];
  for (let i = 0; i < names.length; i += batch) out.push(names.slice(i, i + batch));
  return out;
}

// cp as an operator would script it, at its most favourable: one cp per destination folder per batch.
function timeCp(dest) {
  let seconds = 0;
  for (const names of batches()) {
    reset(dest);
    const nodes = ["node01", "node02", "node03"];
    const t0 = process.hrtime.bigint();
    for (let n = 0; n < 3; n++) {
      const mine = names.filter((_, i) => i % 3 === n).map((f) => join(input, f));
      if (mine.length) execFileSync("cp", [...mine, dest[nodes[n]]]);
    }
    for (const alone of ["arkime", "storage"])
      execFileSync("cp", [...names.map((f) => join(input, f)), dest[alone]]);
    seconds += Number(process.hrtime.bigint() - t0) / 1e9;
  }
  reset(dest);
  return seconds;
}

function router(dest, journalDir, done) {
  return new Router({
    journalDir,
    pools: [
      {
        name: "sensors",
        nodes: ["node01", "node02", "node03"].map((n) => ({ name: n, path: dest[n], minFreeBytes: 0 })),
      },
    ],
    alone: ["arkime", "storage"].map((n) => ({ name: n, path: dest[n], minFreeBytes: 0 })),
    afterDispatch: { action: "move", path: done },
    healthIntervalMs: 60_000,
  });
}

// The router moves spool files to `done` after dispatch; they go back to the input folder untimed.
function restoreInput(done) {
  for (const name of readdirSync(done)) renameSync(join(done, name), join(input, name));
}

async function timeRouter(dest) {
  const journal = join(work, "journal");
  const done = join(work, "done");
  rmSync(journal, { recursive: true, force: true });
  mkdirSync(done, { recursive: true });
  let seconds = 0;
  for (const names of batches()) {
    reset(dest);
    const r = router(dest, journal, done);
    await r.start();
    const t0 = process.hrtime.bigint();
    for (const name of names) await r.submit(join(input, name));
    await r.idle();
    seconds += Number(process.hrtime.bigint() - t0) / 1e9;
    await r.stop();
    restoreInput(done);
  }
  reset(dest);
  return seconds;
}

// One file every `intervalMs`, as a rotator would hand them over: latency from submit to published.
async function latency(dest, count = 200, intervalMs = 50) {
  const journal = join(work, "journal");
  const done = join(work, "done");
  rmSync(journal, { recursive: true, force: true });
  reset(dest);
  const r = router(dest, journal, done);
  const latencies = [];
  r.on("delivered", (e) => latencies.push(e.latencyMs));
  await r.start();
  const names = readdirSync(input).sort().slice(0, Math.min(count, batch));
  for (const name of names) {
    await r.submit(join(input, name));
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  await r.idle();
  await r.stop();
  restoreInput(done);
  reset(dest);
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

await makeInput();
const totalMB = (files * statSync(join(input, readdirSync(input)[0])).size) / 1e6;
console.log(
  `${files} files of ${fileMB} MB (${(totalMB / 1000).toFixed(1)} GB), batches of ${batch}, ${runs} runs each, medians`,
);
const scenarios = [["one filesystem (disk)", join(work, "dest")]];
let mounted = false;
if (process.getuid?.() === 0) {
  mkdirSync(tmpfs, { recursive: true });
  const size = Math.ceil((batch * fileMB * 3 * 1.1) / 1024 + 1);
  const mount = spawnSync("mount", ["-t", "tmpfs", "-o", `size=${size}g`, "tmpfs", tmpfs]);
  if (mount.status === 0) {
    mounted = true;
    scenarios.push(["disk spool -> tmpfs", tmpfs]);
  } else console.log(`disk -> tmpfs skipped: mount failed: ${mount.stderr}`);
} else console.log("disk -> tmpfs skipped: mounting a tmpfs needs root");
const results = [];
try {
  for (const [label, root] of scenarios) {
    const dest = folders(root);
    const ours = [];
    const theirs = [];
    for (let run = 0; run < runs; run++) {
      ours.push(await timeRouter(dest));
      theirs.push(timeCp(dest));
    }
    const mbps = (s) => (totalMB * 3) / s; // three copies of every file are handed off
    const lat = await latency(dest);
    const row = {
      scenario: label,
      routerSeconds: median(ours),
      cpSeconds: median(theirs),
      routerMBps: mbps(median(ours)),
      cpMBps: mbps(median(theirs)),
      ratio: median(theirs) / median(ours),
      latencyP50Ms: lat.p50,
      latencyP99Ms: lat.p99,
      runs: { router: ours, cp: theirs },
    };
    results.push(row);
    console.log(
      `${label.padEnd(24)} router ${row.routerSeconds.toFixed(2)} s (${row.routerMBps.toFixed(0)} MB/s)  cp ${row.cpSeconds.toFixed(2)} s (${row.cpMBps.toFixed(0)} MB/s)  ratio ${row.ratio.toFixed(2)} (target >= 0.9)  hand-off p50 ${row.latencyP50Ms} ms p99 ${row.latencyP99Ms} ms`,
    );
  }
} finally {
  if (mounted) spawnSync("umount", [tmpfs]);
  rmSync(join(work, "dest"), { recursive: true, force: true });
}
console.log(JSON.stringify({ bench: "router", files, fileMB, batch, runs, results }));
