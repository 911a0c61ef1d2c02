#!/usr/bin/env node
// sluice-master capture vs tcpdump -G on the same traffic: a sender replays a >= 500 MB lab capture into one
// end of a veth pair at a ladder of rates (tcpreplay --pps), at tcpreplay --topspeed, and as fast as
// netsniff-ng's mmap'd TX ring sends (when installed: tcpreplay tops out near 300-380 kpps here). At each
// step every tool captures the other end (same 64 MiB kernel buffer, same snaplen, rotating every 10 s), one
// after the other: sluice with the packet-io addon, sluice with node_pcap (--packet-io pcap), tcpdump -G,
// and sluice with --workers 2. Prints sent/captured/dropped per step, the highest rate each holds without
// loss, CPU seconds per million packets (whole command, start-up included, /usr/bin/time; every command runs
// under ip netns exec, so sluice with the addon and one worker captures in its own process) and the same
// without start-up (the capture processes' CPU from "capturing on" / "listening on" to 300 ms after the
// sender is done, from /proc): what a capture that runs for days costs per packet.
//
// BENCH_TOOLS=sluice,sluice-pcap,tcpdump,sluice-w2   BENCH_RATES=50000,...,topspeed,netsniff
// BENCH_RUNS=3 (runs of each topspeed/netsniff step)  BENCH_CAPTURE_MB=600  SLUICE_BENCH_DIR=/tmp/sluice-bench
// BENCH_BUFFER_MIB=64 (every tool's kernel ring)
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const dir = process.env.SLUICE_BENCH_DIR ?? "/tmp/sluice-bench";
const sizeMB = Number(process.env.BENCH_CAPTURE_MB ?? 600);
const input = join(dir, `lab-${sizeMB}M.pcap`);
const hasTool = (tool) => spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;
const ladder = (
  process.env.BENCH_RATES ??
  `50000,100000,150000,200000,250000,300000,topspeed${hasTool("netsniff-ng") ? ",netsniff" : ""}`
).split(",");
const tools = (process.env.BENCH_TOOLS ?? "sluice,sluice-pcap,tcpdump,sluice-w2").split(",");
const fastRuns = Number(process.env.BENCH_RUNS ?? 3);
// Every tool's kernel ring. A small one (BENCH_BUFFER_MIB=4) makes draining the ring the limit rather than
// the sender, which on a busy 2-core machine is the only way to see who loses packets first.
const bufferMib = Number(process.env.BENCH_BUFFER_MIB ?? 64);
const cli = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ticks = 100; // USER_HZ

const { labUnavailableReason, makeLabCapture, createLab } = await import("@sluice/testlab");
const reason = labUnavailableReason();
if (reason) {
  console.log(`sluice-master capture bench skipped: it needs ${reason}`);
  process.exit(0);
}
for (const tool of ["tcpreplay", "tcpdump"]) {
  if (!hasTool(tool)) {
    console.log(`sluice-master capture bench skipped: ${tool} is missing (make setup)`);
    process.exit(0);
  }
}
if (ladder.includes("netsniff") && !hasTool("netsniff-ng")) {
  console.log("netsniff-ng is missing (apt-get install netsniff-ng): its step is left out");
  ladder.splice(ladder.indexOf("netsniff"), 1);
}
mkdirSync(dir, { recursive: true });
if (!existsSync(input)) {
  console.log(`making a ${sizeMB} MB lab capture in ${input}...`);
  await makeLabCapture(input, { bytes: sizeMB * 1e6 });
}

// CPU seconds of a process and its descendants still alive, from /proc.
function treeCpu(pid) {
  let total = 0;
  const stat = (p) => {
    try {
      const fields = readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1].split(" ");
      return { ppid: Number(fields[1]), cpu: (Number(fields[11]) + Number(fields[12])) / ticks };
    } catch {
      return null;
    }
  };
  const all = readdirSync("/proc").filter((e) => /^\d+$/.test(e));
  const parents = new Map(all.map((p) => [Number(p), stat(p)]));
  const inTree = (p) => {
    for (let at = p, hops = 0; at > 1 && hops < 64; hops++) {
      if (at === pid) return true;
      at = parents.get(at)?.ppid ?? 0;
    }
    return false;
  };
  for (const [p, s] of parents) if (s && inTree(p)) total += s.cpu;
  return total;
}

function timed(netns, command, args) {
  // /usr/bin/time reports the CPU of the command and of the children it waited for (the capture children).
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
      for (let i = 0; i < 3000 && !err.includes(text); i++) await sleep(10);
      if (!err.includes(text)) throw new Error(`${command} did not print "${text}": ${err}`);
    },
    // GNU time dies of SIGTERM (orphaning the command) but ignores SIGINT while it waits: SIGINT the whole
    // process group, so the command stops gracefully and time still reports its CPU.
    interrupt: () => process.kill(-child.pid, "SIGINT"),
    cpu: () => {
      const m = /TIME ([\d.]+) ([\d.]+)/.exec(err);
      return m ? Number(m[1]) + Number(m[2]) : Number.NaN;
    },
  };
}

function send(lab, rate) {
  const started = process.hrtime.bigint();
  if (rate === "netsniff") {
    // An explicit TX ring (its default does not allocate here); kick the kernel's TX ring every
    // millisecond rather than every 10 us.
    const run = spawnSync(
      "ip",
      [
        ...["netns", "exec", lab.a.netns, "netsniff-ng", "--in", input, "--out", lab.a.iface],
        ...["-s", "-m", "-k", "1000", "-S", "64MiB"],
      ],
      { encoding: "utf8" },
    );
    const said = run.stdout + run.stderr;
    const sent = Number(/(\d+)\s+packets outgoing/.exec(said)?.[1]);
    const took = /(\d+) sec, (\d+) usec in total/.exec(said);
    const seconds = took
      ? Number(took[1]) + Number(took[2]) / 1e6
      : Number(process.hrtime.bigint() - started) / 1e9;
    if (!sent) throw new Error(`netsniff-ng sent nothing: ${said.slice(-300)}`);
    return { sent, pps: Math.round(sent / seconds) };
  }
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

function sluiceStep(extra) {
  return async (lab, rate, out) => {
    const run = timed(lab.b.netns, process.execPath, [
      cli,
      "capture",
      ...["--interface", lab.b.iface, "--out", out, "--rotate-seconds", "10"],
      ...["--buffer-mib", String(bufferMib), "--snaplen", "65535", ...extra],
    ]);
    await run.waitFor("capturing on");
    const before = treeCpu(run.child.pid);
    const sent = send(lab, rate);
    await sleep(300);
    const during = treeCpu(run.child.pid) - before;
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
      steadyCpu: during,
      packetIo: /\((packet-io addon(?:, in-process)?|node_pcap)/.exec(run.stderr())?.[1] ?? "?",
    };
  };
}

async function tcpdumpStep(lab, rate, out) {
  const run = timed(lab.b.netns, "tcpdump", [
    ...["-i", lab.b.iface, "-B", String(bufferMib * 1024), "-s", "65535", "-G", "10", "-Z", "root"],
    ...["-w", join(out, "tcpdump-%Y%m%d%H%M%S.pcap")],
  ]);
  await run.waitFor("listening on");
  const before = treeCpu(run.child.pid);
  const sent = send(lab, rate);
  await sleep(300);
  const during = treeCpu(run.child.pid) - before;
  // tcpdump drops the ring block it has not been handed at SIGINT: wait past its 1 s buffer timeout.
  await sleep(1000);
  run.interrupt();
  await run.exited;
  const count = (label) => Number(new RegExp(`(\\d+) packets? ${label}`).exec(run.stderr())?.[1]);
  return {
    ...sent,
    captured: count("captured"),
    dropped: count("dropped by kernel"),
    cpu: run.cpu(),
    steadyCpu: during,
  };
}

const steps = {
  sluice: sluiceStep(["--packet-io", "native"]),
  "sluice-pcap": sluiceStep(["--packet-io", "pcap"]),
  tcpdump: tcpdumpStep,
  "sluice-w2": sluiceStep(["--packet-io", "native", "--workers", "2"]),
};

const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const spread = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x));
  return s.length ? `${Math.min(...s).toFixed(2)}–${Math.max(...s).toFixed(2)}` : "-";
};

const lab = await createLab();
const results = [];
const load = [
  loadavg()
    .map((x) => x.toFixed(2))
    .join(" "),
];
try {
  for (const end of [lab.a, lab.b])
    spawnSync("ip", ["netns", "exec", end.netns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
  const fast = new Set(["topspeed", "netsniff"]);
  const plan = [
    ...ladder.filter((r) => !fast.has(r)),
    ...ladder.filter((r) => fast.has(r)).flatMap((r) => Array(fastRuns).fill(r)),
  ];
  console.log(`input ${input}; ${cpus().length} cores; ${bufferMib} MiB rings; load average ${load[0]}`);
  console.log(`steps ${plan.join(", ")}; tools ${tools.join(", ")}`);
  console.log(
    "rate        tool         sent      captured  lost      lossless  cpu s/Mpkt  steady s/Mpkt  sender pps",
  );
  for (const rate of plan) {
    for (const tool of tools) {
      const out = join(dir, `capture-${tool}`);
      rmSync(out, { recursive: true, force: true });
      mkdirSync(out, { recursive: true });
      const r = await steps[tool](lab, rate, out);
      rmSync(out, { recursive: true, force: true });
      const row = {
        rate,
        tool,
        ...r,
        lossless: r.captured === r.sent && r.dropped === 0,
        cpuPerMillion: (r.cpu / r.captured) * 1e6,
        steadyPerMillion: r.steadyCpu === undefined ? Number.NaN : (r.steadyCpu / r.captured) * 1e6,
      };
      results.push(row);
      console.log(
        `${String(rate).padEnd(11)} ${tool.padEnd(12)} ${String(r.sent).padEnd(9)} ${String(r.captured).padEnd(9)} ${String(r.sent - r.captured).padEnd(9)} ${String(row.lossless).padEnd(9)} ${row.cpuPerMillion.toFixed(2).padEnd(11)} ${(Number.isNaN(row.steadyPerMillion) ? "-" : row.steadyPerMillion.toFixed(2)).padEnd(14)} ${r.pps}`,
      );
    }
  }
} finally {
  await lab.destroy();
}
load.push(
  loadavg()
    .map((x) => x.toFixed(2))
    .join(" "),
);

// The ladder's nominal rates are what the sender was asked for; on a busy machine it may send slower. Judge
// each tool by the rates the sender actually achieved on the steps it captured without loss.
const highest = (tool) => {
  let best = 0;
  for (const r of results) if (r.tool === tool && r.lossless && r.pps > best) best = r.pps;
  return Math.round(best);
};
const of = (tool, key) => results.filter((r) => r.tool === tool).map((r) => r[key]);
const summary = {};
console.log(`load average before ${load[0]}, after ${load[1]}`);
for (const tool of tools) {
  summary[tool] = {
    highestLossless: highest(tool),
    lostAnywhere: results.some((r) => r.tool === tool && !r.lossless),
    cpuPerMillion: median(of(tool, "cpuPerMillion")),
    cpuSpread: spread(of(tool, "cpuPerMillion")),
    steadyPerMillion: median(of(tool, "steadyPerMillion")),
    // Where every tool loses (small rings, fast senders), the share lost says who drains best.
    lostShare: median(results.filter((r) => r.tool === tool).map((r) => (r.sent - r.captured) / r.sent)),
  };
  const s = summary[tool];
  const how = results.find((r) => r.tool === tool)?.packetIo;
  console.log(
    `${tool.padEnd(12)} ${how ? `(${how}) ` : ""}${s.lostAnywhere ? `highest lossless ${s.highestLossless} pps (lost packets at some step)` : `no loss at any step, up to the ${s.highestLossless} pps the sender reached (sender-bound)`}; median share lost ${(s.lostShare * 100).toFixed(2)}%; cpu s/Mpkt median ${s.cpuPerMillion.toFixed(2)} (${s.cpuSpread})${Number.isNaN(s.steadyPerMillion) ? "" : `, without start-up ${s.steadyPerMillion.toFixed(2)}`}`,
  );
}
const ratio = (a, b, key) =>
  summary[a] && summary[b] ? (summary[a][key] / summary[b][key]).toFixed(2) : "-";
console.log(
  `sluice (addon) / tcpdump: cpu per Mpkt ${ratio("sluice", "tcpdump", "cpuPerMillion")} whole command, ${ratio("sluice", "tcpdump", "steadyPerMillion")} without start-up (target <= 1.0); highest lossless rate ${ratio("sluice", "tcpdump", "highestLossless")} (target >= 1.0)`,
);
console.log(
  `sluice node_pcap fallback / tcpdump: cpu per Mpkt ${ratio("sluice-pcap", "tcpdump", "cpuPerMillion")} whole command, ${ratio("sluice-pcap", "tcpdump", "steadyPerMillion")} without start-up; workers 2 / 1 highest lossless ${ratio("sluice-w2", "sluice", "highestLossless")}`,
);
console.log(
  "a tool that lost nothing was limited by the sender, not by itself: compare highest rates only between tools that lost packets somewhere",
);
console.log(JSON.stringify({ bench: "sluice-master-capture", load, results, summary }));
