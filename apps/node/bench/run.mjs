#!/usr/bin/env node
// sluice-node vs tcpreplay on the same input: a lab capture cut into files is sent at top speed into one
// end of a veth pair, by tcpreplay --topspeed, by `sluice-node replay --speed topspeed`, and by
// `sluice-node run` (watching a folder, verifying, replaying and deleting each file), one after the other,
// each with the same consumer: tcpdump on the peer end. tcpreplay and `replay` are both started with
// `ip netns exec`. Ours runs with the packet-io addon (SLUICE_PACKET_IO=native) and with the node_pcap
// fallback (=pcap). Prints, for each, packets per second of the whole command (packets / wall-clock
// seconds, start-up included) and the sending rate (packets / the time from the first to the last frame
// as the peer's kernel stamped them), the median of BENCH_RUNS runs (default 5) with the spread, and
// our figure over tcpreplay's.
// Then at original speed (1x), on a short capture of mixed traffic (~3 s): tcpreplay and
// `sluice-node replay` (its default timer, spin) on both paths, the error of every inter-packet gap at the
// peer against the file's (p50/p99), median of the runs (default 6). BENCH_PARTS=topspeed, 1x or startup
// (a one-packet replay, the whole command: start-up and shutdown, 10 runs) picks parts; the default is
// topspeed,1x. BENCH_TOOLS=replay,run (say) leaves tools out of the topspeed part (tcpreplay always runs).
import { spawn, spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const dir = process.env.SLUICE_BENCH_DIR ?? "/tmp/sluice-node-bench";
const sizeMB = Number(process.env.BENCH_CAPTURE_MB ?? 60);
const fileCount = Number(process.env.BENCH_FILES ?? 10);
const runsOf = (part) => Number(process.env.BENCH_RUNS ?? (part === "1x" ? 6 : 5));
// The executable as installed (package.json "bin"): a one-shot replay runs from CommonJS builds there.
const cli = fileURLToPath(new URL("../dist/bin.cjs", import.meta.url));

const {
  labUnavailableReason,
  makeLabCapture,
  makePacedCapture,
  createLab,
  capinfos,
  editcap,
  gapErrorsUs,
  median,
  percentile,
  spread,
} = await import("@sluice/testlab");
const { readCaptureSync } = await import("@sluice/pcap-format");
const parts = (process.env.BENCH_PARTS ?? "topspeed,1x").split(",");
const reason = labUnavailableReason();
if (reason) {
  console.log(`sluice-node bench skipped: it needs ${reason}`);
  process.exit(0);
}
if (spawnSync("sh", ["-c", "command -v tcpreplay"]).status !== 0) {
  console.log("sluice-node bench skipped: tcpreplay is missing (make setup)");
  process.exit(0);
}
if (!existsSync(cli)) {
  console.log(
    `sluice-node bench skipped: ${cli} is not built (npx turbo run build --filter=@sluice/node...)`,
  );
  process.exit(0);
}

mkdirSync(dir, { recursive: true });
const whole = join(dir, `lab-${sizeMB}M.pcap`);
if (!existsSync(whole)) {
  console.log(`making a ${sizeMB} MB lab capture in ${whole}...`);
  await makeLabCapture(whole, { bytes: sizeMB * 1e6 });
}
const piecesDir = join(dir, `pieces-${sizeMB}M-${fileCount}`);
const { packets } = await capinfos(whole);
if (!existsSync(piecesDir)) {
  mkdirSync(piecesDir);
  await editcap(["-c", String(Math.ceil(packets / fileCount)), whole, join(piecesDir, "piece.pcap")]);
}
// Master-style names in capture order, so `run` replays them in the same order tcpreplay does.
const pieces = readdirSync(piecesDir)
  .filter((n) => n.startsWith("piece_"))
  .sort()
  .map((n) => join(piecesDir, n));
const named = pieces.map(
  (_, i) => `bench-20261122T10${String(i).padStart(2, "0")}00Z-${String(i).padStart(6, "0")}.pcap`,
);

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");

function timedSync(command, args, env = {}) {
  const start = process.hrtime.bigint();
  const result = spawnSync(command, args, {
    encoding: "utf8",
    maxBuffer: 1 << 26,
    env: { ...process.env, ...env },
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (result.status !== 0)
    throw new Error(`${command} ${args.join(" ")} exited ${result.status}: ${result.stderr}`);
  return { seconds, stdout: result.stdout, stderr: result.stderr };
}

function tcpreplay(lab, _round, files = pieces, flags = ["--topspeed"]) {
  const { seconds, stdout } = timedSync("ip", [
    "netns",
    "exec",
    lab.a.netns,
    "tcpreplay",
    "-i",
    lab.a.iface,
    ...flags,
    ...files,
  ]);
  const sent = Number(/Actual: (\d+) packets/.exec(stdout)?.[1]);
  return { sent, seconds };
}

function sluiceReplay(lab, _round, files = pieces, speed = "topspeed", packetIo = "native") {
  const { seconds, stdout } = timedSync(
    "ip",
    [
      "netns",
      "exec",
      lab.a.netns,
      process.execPath,
      cli,
      "replay",
      "--interface",
      lab.a.iface,
      "--speed",
      speed,
      ...files,
    ],
    { SLUICE_PACKET_IO: packetIo },
  );
  const sent = Number(/^sent (\d+) packets/.exec(stdout)?.[1]);
  return { sent, seconds };
}

async function sluiceRun(lab, round, packetIo = "native") {
  const base = join(dir, `run-${round}`);
  rmSync(base, { recursive: true, force: true });
  const incoming = join(base, "in");
  mkdirSync(incoming, { recursive: true });
  for (const [i, p] of pieces.entries()) copyFileSync(p, join(incoming, named[i]));
  const config = join(base, "node.json");
  writeFileSync(
    config,
    JSON.stringify({
      incoming,
      output: { type: "interface", interface: lab.a.iface, netns: lab.a.netns },
      speed: "topspeed",
      failed: join(base, "failed"),
      stateDir: join(base, "state"),
    }),
  );
  const start = process.hrtime.bigint();
  const child = spawn(process.execPath, [cli, "run", "--config", config], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, SLUICE_PACKET_IO: packetIo },
  });
  let sent = 0;
  let deleted = 0;
  let partial = "";
  await new Promise((resolve, reject) => {
    child.on("exit", (code) => reject(new Error(`sluice-node run exited ${code} early`)));
    child.stdout.on("data", (d) => {
      partial += d;
      const lines = partial.split("\n");
      partial = lines.pop();
      for (const line of lines) {
        const e = JSON.parse(line);
        if (e.event === "replayed") sent += e.packetsSent;
        if (e.event === "file-deleted" && ++deleted === pieces.length) resolve();
      }
    });
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  child.removeAllListeners("exit");
  child.kill("SIGTERM");
  await new Promise((r) => child.on("exit", r));
  rmSync(base, { recursive: true, force: true });
  return { sent, seconds };
}

const lab = await createLab();
try {
  // Silent kernels (no IPv6 chatter), and frames either end sends itself are left out of the peer capture.
  const filter = await lab.quietFilter();
  console.log(
    `input: ${pieces.length} files, ${packets} packets (${sizeMB} MB lab capture); load average at start ${load()}`,
  );
  if (parts.includes("topspeed")) {
    const runs = runsOf("topspeed");
    const tools = [
      { name: "tcpreplay", label: "tcpreplay --topspeed (peer)", fn: tcpreplay },
      { name: "replay", label: "sluice-node replay --speed topspeed, addon", fn: sluiceReplay },
      {
        name: "replay-pcap",
        label: "sluice-node replay --speed topspeed, node_pcap",
        fn: (l, r) => sluiceReplay(l, r, pieces, "topspeed", "pcap"),
      },
      { name: "run", label: "sluice-node run (watch, verify, replay, delete), addon", fn: sluiceRun },
      {
        name: "run-pcap",
        label: "sluice-node run, node_pcap",
        fn: (l, r) => sluiceRun(l, r, "pcap"),
      },
    ]
      .filter(
        (tool) =>
          (process.env.BENCH_TOOLS ?? "").split(",").filter(Boolean).length === 0 ||
          process.env.BENCH_TOOLS.split(",").includes(tool.name) ||
          tool.name === "tcpreplay",
      )
      .map((tool) => ({ ...tool, pps: [], sending: [], received: [] }));
    console.log(`topspeed: ${runs} rounds, the tools one after the other in each`);
    for (let round = 0; round < runs; round++) {
      for (const tool of tools) {
        const peerFile = join(dir, "peer.pcap");
        const capture = await lab.capture(peerFile, { on: "b", filter });
        const { sent, seconds } = await tool.fn(lab, round);
        const { packets: received } = await capture.stop();
        // The sending rate as the peer's kernel saw it: first to last frame's time stamp.
        const got = readCaptureSync(new Uint8Array(readFileSync(peerFile))).packets;
        const at = (r) => r.seconds + r.nanoseconds / 1e9;
        const span = got.length > 1 ? at(got.at(-1)) - at(got[0]) : Number.NaN;
        rmSync(peerFile, { force: true });
        if (sent !== packets)
          console.log(`  note: ${tool.name} sent ${sent} of ${packets} packets in round ${round + 1}`);
        tool.pps.push(sent / seconds);
        tool.sending.push(got.length / span);
        tool.received.push(received);
      }
      console.log(
        `  round ${round + 1}: ${tools.map((t) => `${t.name} ${Math.round(t.pps.at(-1))} wall / ${Math.round(t.sending.at(-1))} sending`).join("; ")}`,
      );
    }
    const peerWall = median(tools[0].pps);
    const peerSending = median(tools[0].sending);
    console.log(`median of ${runs} (spread), pps:`);
    for (const { label, pps, sending, received } of tools) {
      console.log(
        `${label.padEnd(56)} whole command ${String(Math.round(median(pps))).padStart(7)} (${spread(pps)}) ratio ${(median(pps) / peerWall).toFixed(2)}` +
          `   sending ${String(Math.round(median(sending))).padStart(7)} (${spread(sending)}) ratio ${(median(sending) / peerSending).toFixed(2)}` +
          `   peer tcpdump got ${median(received)}`,
      );
    }
  }

  if (parts.includes("startup")) {
    // The whole command on a one-packet file: what each tool costs before and after its packets.
    const runs = Number(process.env.BENCH_RUNS ?? 10);
    const one = join(dir, "one-packet.pcap");
    if (!existsSync(one)) await editcap(["-r", whole, one, "1"]);
    const contenders = [
      ["tcpreplay", () => tcpreplay(lab, 0, [one], ["--topspeed"])],
      ["replay", () => sluiceReplay(lab, 0, [one])],
      ["replay-pcap", () => sluiceReplay(lab, 0, [one], "topspeed", "pcap")],
    ];
    const ms = Object.fromEntries(contenders.map(([name]) => [name, []]));
    for (let round = 0; round < runs; round++) {
      for (const [name, fn] of contenders) ms[name].push(fn().seconds * 1000);
    }
    console.log(`one-packet replay, whole command, median of ${runs} (spread), ms:`);
    for (const [name] of contenders) {
      console.log(`  ${name.padEnd(12)} ${median(ms[name]).toFixed(0).padStart(5)} (${spread(ms[name])})`);
    }
  }

  if (parts.includes("1x")) {
    const runs = runsOf("1x");
    const short = join(dir, "node-1x-short.pcap");
    if (!existsSync(short)) {
      console.log("making a short capture for the 1x comparison...");
      await makePacedCapture(short);
    }
    const records = (path) => readCaptureSync(new Uint8Array(readFileSync(path))).packets;
    const sent = records(short);
    const contenders = [
      ["tcpreplay", "tcpreplay (peer)", () => tcpreplay(lab, 0, [short], [])],
      ["replay", "sluice-node replay (--timer spin), addon", () => sluiceReplay(lab, 0, [short], "original")],
      [
        "replay-pcap",
        "sluice-node replay (--timer spin), node_pcap",
        () => sluiceReplay(lab, 0, [short], "original", "pcap"),
      ],
    ];
    const series = Object.fromEntries(contenders.map(([name]) => [name, []]));
    for (let round = 0; round < runs; round++) {
      for (const [name, , fn] of contenders) {
        const peerFile = join(dir, `peer-1x-${name}.pcap`);
        const capture = await lab.capture(peerFile, { on: "b", filter, precision: "nano" });
        fn();
        await capture.stop();
        const got = records(peerFile);
        rmSync(peerFile, { force: true });
        const errors = got.length === sent.length ? gapErrorsUs(sent, got) : [];
        if (got.length !== sent.length)
          console.log(`  note: the peer got ${got.length} of ${sent.length} from ${name}`);
        series[name].push({ p50: percentile(errors, 0.5), p99: percentile(errors, 0.99) });
      }
      console.log(
        `  1x run ${round + 1}: ${contenders.map(([name]) => `${name} p50 ${series[name].at(-1).p50.toFixed(1)} µs p99 ${series[name].at(-1).p99.toFixed(1)} µs`).join(", ")}`,
      );
    }
    const of = (list, key) => median(list.map((e) => e[key]).filter(Number.isFinite));
    console.log(
      `original speed (1x), ${sent.length} packets, gap error at the peer, median of ${runs} (spread of p99):`,
    );
    for (const [name, label] of contenders) {
      const list = series[name];
      console.log(
        `${label.padEnd(48)} p50 ${of(list, "p50").toFixed(1).padStart(6)} µs   p99 ${of(list, "p99").toFixed(1).padStart(6)} µs (${spread(list.map((e) => e.p99))})   p99 ratio ${(of(list, "p99") / of(series.tcpreplay, "p99")).toFixed(2)}`,
      );
    }
  }
  console.log(`load average at end: ${load()}`);
} finally {
  await lab.destroy();
}
