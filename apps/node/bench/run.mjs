#!/usr/bin/env node
// sluice-node vs tcpreplay on the same input: a lab capture cut into files is sent at top speed into one
// end of a veth pair, by tcpreplay --topspeed, by `sluice-node replay --speed topspeed`, and by
// `sluice-node run` (watching a folder, verifying, replaying and deleting each file), one after the other.
// Prints packets per second for each (packets / wall-clock seconds of the whole command, start-up
// included), the median of BENCH_RUNS runs, and our figure over tcpreplay's.
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const dir = process.env.SLUICE_BENCH_DIR ?? "/tmp/sluice-node-bench";
const sizeMB = Number(process.env.BENCH_CAPTURE_MB ?? 60);
const fileCount = Number(process.env.BENCH_FILES ?? 10);
const runs = Number(process.env.BENCH_RUNS ?? 5);
const cli = fileURLToPath(new URL("../dist/cli.js", import.meta.url));

const { labUnavailableReason, makeLabCapture, createLab, capinfos, editcap } = await import(
  "@sluice/testlab"
);
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

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function timedSync(command, args) {
  const start = process.hrtime.bigint();
  const result = spawnSync(command, args, { encoding: "utf8", maxBuffer: 1 << 26 });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (result.status !== 0)
    throw new Error(`${command} ${args.join(" ")} exited ${result.status}: ${result.stderr}`);
  return { seconds, stdout: result.stdout, stderr: result.stderr };
}

function tcpreplay(lab) {
  const { seconds, stdout } = timedSync("ip", [
    "netns",
    "exec",
    lab.a.netns,
    "tcpreplay",
    "-i",
    lab.a.iface,
    "--topspeed",
    ...pieces,
  ]);
  const sent = Number(/Actual: (\d+) packets/.exec(stdout)?.[1]);
  return { sent, seconds };
}

function sluiceReplay(lab) {
  const { seconds, stdout } = timedSync(process.execPath, [
    cli,
    "replay",
    "--interface",
    lab.a.iface,
    "--netns",
    lab.a.netns,
    "--speed",
    "topspeed",
    ...pieces,
  ]);
  const sent = Number(/^sent (\d+) packets/.exec(stdout)?.[1]);
  return { sent, seconds };
}

async function sluiceRun(lab, round) {
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
  console.log(
    `input: ${pieces.length} files, ${packets} packets (${sizeMB} MB lab capture); ${runs} runs each, alternating`,
  );
  const results = { tcpreplay: [], replay: [], run: [] };
  for (let round = 0; round < runs; round++) {
    for (const [name, fn] of [
      ["tcpreplay", tcpreplay],
      ["replay", sluiceReplay],
      ["run", sluiceRun],
    ]) {
      const { sent, seconds } = await fn(lab, round);
      if (sent !== packets)
        console.log(`  note: ${name} sent ${sent} of ${packets} packets in round ${round + 1}`);
      results[name].push(sent / seconds);
    }
  }
  const peer = median(results.tcpreplay);
  const row = (label, xs) =>
    `${label.padEnd(44)} ${String(Math.round(median(xs))).padStart(9)} pps   ratio ${(median(xs) / peer).toFixed(2)}`;
  console.log(row("tcpreplay --topspeed (peer)", results.tcpreplay));
  console.log(row("sluice-node replay --speed topspeed", results.replay));
  console.log(row("sluice-node run (watch, verify, replay, delete)", results.run));
  console.log(
    `(runs, pps: tcpreplay ${results.tcpreplay.map(Math.round).join(" ")}; replay ${results.replay.map(Math.round).join(" ")}; run ${results.run.map(Math.round).join(" ")})`,
  );
} finally {
  await lab.destroy();
}
