#!/usr/bin/env node
// sluice-master capture vs tcpdump -G on the same traffic: tcpreplay sends a >= 500 MB lab capture into one
// end of a veth pair at a ladder of rates and at --topspeed; at each step both tools capture the other end
// (same 64 MiB kernel buffer, same snaplen), one after the other. Prints sent/captured/dropped for both,
// the highest rate each holds without loss, their ratio, and CPU seconds per million packets.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const dir = process.env.SLUICE_BENCH_DIR ?? "/tmp/sluice-bench";
const sizeMB = Number(process.env.BENCH_CAPTURE_MB ?? 600);
const input = join(dir, `lab-${sizeMB}M.pcap`);
const ladder = (process.env.BENCH_RATES ?? "50000,100000,150000,200000,250000,300000,topspeed").split(",");
const topspeedRuns = Number(process.env.BENCH_RUNS ?? 3);
const cli = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const { labUnavailableReason, makeLabCapture, createLab } = await import("@sluice/testlab");
const reason = labUnavailableReason();
if (reason) {
  console.log(`sluice-master capture bench skipped: it needs ${reason}`);
  process.exit(0);
}
for (const tool of ["tcpreplay", "tcpdump"]) {
  if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) {
    console.log(`sluice-master capture bench skipped: ${tool} is missing (make setup)`);
    process.exit(0);
  }
}
mkdirSync(dir, { recursive: true });
if (!existsSync(input)) {
  console.log(`making a ${sizeMB} MB lab capture in ${input}...`);
  await makeLabCapture(input, { bytes: sizeMB * 1e6 });
}

function timed(netns, command, args) {
  // /usr/bin/time reports the CPU of the command and of the children it waited for (the capture child).
  const child = spawn("ip", ["netns", "exec", netns, "/usr/bin/time", "-f", "TIME %U %S", command, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let err = "";
  let out = "";
  child.stderr.on("data", (d) => (err += d));
  child.stdout.on("data", (d) => (out += d));
  const exited = new Promise((resolve) => child.on("exit", resolve));
  return {
    child,
    exited,
    stderr: () => err,
    stdout: () => out,
    waitFor: async (text) => {
      for (let i = 0; i < 1000 && !err.includes(text); i++) await sleep(10);
      if (!err.includes(text)) throw new Error(`${command} did not print "${text}": ${err}`);
    },
    // GNU time dies of SIGTERM (orphaning the command) but ignores SIGINT while it waits: SIGINT the whole
    // process group, so the command stops gracefully and time still reports its CPU.
    interrupt: () => process.kill(-child.pid, "SIGINT"),
    cpu: () => {
      const m = /TIME ([\d.]+) ([\d.]+)/.exec(err);
      return m ? Number(m[1]) + Number(m[2]) : NaN;
    },
  };
}

function replay(lab, rate) {
  const speed = rate === "topspeed" ? ["--topspeed"] : [`--pps=${rate}`];
  const run = spawnSync(
    "ip",
    ["netns", "exec", lab.a.netns, "tcpreplay", "-i", lab.a.iface, ...speed, input],
    { encoding: "utf8" },
  );
  const sent = Number(/Actual: (\d+) packets/.exec(run.stdout)?.[1]);
  const pps = Number(/Rated: [\d.]+ Bps, [\d.]+ Mbps, ([\d.]+) pps/.exec(run.stdout)?.[1]);
  return { sent, pps };
}

async function sluiceStep(lab, rate, out) {
  const run = timed(lab.b.netns, process.execPath, [
    cli,
    "capture",
    "--interface",
    lab.b.iface,
    "--out",
    out,
    "--rotate-seconds",
    "10",
    "--buffer-mib",
    "64",
    "--snaplen",
    "65535",
  ]);
  await run.waitFor("capturing on");
  const sent = replay(lab, rate);
  await sleep(300);
  run.interrupt();
  await run.exited;
  const m =
    /(\d+) packets captured, (\d+) dropped by kernel, (\d+) dropped by interface, (\d+) dropped by spool/.exec(
      run.stderr(),
    );
  return {
    ...sent,
    captured: Number(m?.[1]),
    dropped: Number(m?.[2]) + Number(m?.[3]) + Number(m?.[4]),
    cpu: run.cpu(),
  };
}

async function tcpdumpStep(lab, rate, out) {
  const run = timed(lab.b.netns, "tcpdump", [
    "-i",
    lab.b.iface,
    "-B",
    "65536",
    "-s",
    "65535",
    "-G",
    "10",
    "-Z",
    "root",
    "-w",
    join(out, "tcpdump-%Y%m%d%H%M%S.pcap"),
  ]);
  await run.waitFor("listening on");
  const sent = replay(lab, rate);
  // tcpdump drops the ring block it has not been handed at SIGINT: wait past its 1 s buffer timeout.
  await sleep(1300);
  run.interrupt();
  await run.exited;
  const count = (label) => Number(new RegExp(`(\\d+) packets? ${label}`).exec(run.stderr())?.[1]);
  return { ...sent, captured: count("captured"), dropped: count("dropped by kernel"), cpu: run.cpu() };
}

const lab = await createLab();
const results = [];
try {
  for (const end of [lab.a, lab.b])
    spawnSync("ip", ["netns", "exec", end.netns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
  const steps = [
    ...ladder.filter((r) => r !== "topspeed"),
    ...Array(ladder.includes("topspeed") ? topspeedRuns : 0).fill("topspeed"),
  ];
  console.log(`input ${input}; ladder ${ladder.join(", ")} (topspeed x${topspeedRuns})`);
  console.log("rate        tool      sent      captured  dropped   lossless  cpu s/Mpkt  achieved pps");
  for (const rate of steps) {
    for (const [tool, step] of [
      ["sluice", sluiceStep],
      ["tcpdump", tcpdumpStep],
    ]) {
      const out = join(dir, `capture-${tool}`);
      rmSync(out, { recursive: true, force: true });
      mkdirSync(out, { recursive: true });
      const r = await step(lab, rate, out);
      rmSync(out, { recursive: true, force: true });
      const row = {
        rate,
        tool,
        ...r,
        lossless: r.captured === r.sent && r.dropped === 0,
        cpuPerMillion: (r.cpu / r.captured) * 1e6,
      };
      results.push(row);
      console.log(
        `${String(rate).padEnd(11)} ${tool.padEnd(9)} ${String(r.sent).padEnd(9)} ${String(r.captured).padEnd(9)} ${String(r.sent - r.captured).padEnd(9)} ${String(row.lossless).padEnd(9)} ${row.cpuPerMillion.toFixed(2).padEnd(11)} ${r.pps}`,
      );
    }
  }
} finally {
  await lab.destroy();
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0
    ? NaN
    : s.length % 2
      ? s[(s.length - 1) / 2]
      : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
// The ladder's nominal rates are what tcpreplay was asked for; on a busy machine it may send slower. Judge
// each tool by the rates tcpreplay actually achieved on the steps it captured without loss.
const highest = (tool) => {
  let best = 0;
  for (const r of results) if (r.tool === tool && r.lossless && r.pps > best) best = r.pps;
  return Math.round(best);
};
const lostAny = (tool) => results.some((r) => r.tool === tool && !r.lossless);
const sluiceBest = highest("sluice");
const tcpdumpBest = highest("tcpdump");
const topCapture = (tool) =>
  median(results.filter((r) => r.tool === tool && r.rate === "topspeed").map((r) => r.captured / r.sent));
console.log(
  `highest rate held without loss (achieved by the sender): sluice ${sluiceBest} pps, tcpdump ${tcpdumpBest} pps, ratio ${(sluiceBest / tcpdumpBest).toFixed(2)} (target >= 1.0)`,
);
console.log(
  `lost packets at any step: sluice ${lostAny("sluice") ? "yes" : "no"}, tcpdump ${lostAny("tcpdump") ? "yes" : "no"}; where neither lost any, the sender (tcpreplay) was the limit`,
);
console.log(
  `at topspeed (median of ${topspeedRuns}): sluice captured ${(topCapture("sluice") * 100).toFixed(2)}%, tcpdump ${(topCapture("tcpdump") * 100).toFixed(2)}%`,
);
console.log(
  `cpu seconds per million packets (median): sluice ${median(results.filter((r) => r.tool === "sluice").map((r) => r.cpuPerMillion)).toFixed(2)}, tcpdump ${median(results.filter((r) => r.tool === "tcpdump").map((r) => r.cpuPerMillion)).toFixed(2)}`,
);
console.log(JSON.stringify({ bench: "sluice-master-capture", results, sluiceBest, tcpdumpBest }));
