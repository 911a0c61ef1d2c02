#!/usr/bin/env node
// sluice-pcap split --parts 4 against one `tcpdump -r IN -w OUT` pass on the same lab capture, back to back
// in one run. Prints medians of BENCH_RUNS runs (default 3) and the ratio tcpdump time / split time: at or
// above 1.0, splitting by flow costs no more than tcpdump copying the file once.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const runs = Number(process.env.BENCH_RUNS ?? 3);
const sizeMB = Number(process.env.BENCH_CAPTURE_MB ?? 600);
const parts = Number(process.env.BENCH_PARTS ?? 4);
const dir = process.env.SLUICE_BENCH_DIR ?? "/tmp/sluice-bench";
const cli = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const input = join(dir, `lab-${sizeMB}M.pcap`);
const splitDir = join(dir, "split-out");
const tcpdumpOut = join(dir, "tcpdump-out.pcap");

mkdirSync(dir, { recursive: true });
if (!existsSync(input)) {
  const { labUnavailableReason, makeLabCapture } = await import("@sluice/testlab");
  const reason = labUnavailableReason();
  if (reason) {
    console.log(`sluice-pcap split bench skipped: the lab capture needs ${reason}`);
    process.exit(0);
  }
  console.log(`making a ${sizeMB} MB lab capture in ${input} (real kernel traffic through a veth pair)...`);
  const made = await makeLabCapture(input, { bytes: sizeMB * 1e6 });
  console.log(`  ${made.packets} packets, ${made.bytes} bytes`);
}

function timed(command, args) {
  const result = spawnSync("/usr/bin/time", ["-f", "%e %M", command, ...args], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed: ${result.stderr}`);
  const [seconds, kb] = result.stderr.trim().split("\n").at(-1).split(" ").map(Number);
  return { seconds, rssMB: kb / 1024 };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function clean() {
  rmSync(splitDir, { recursive: true, force: true });
  mkdirSync(splitDir);
  rmSync(tcpdumpOut, { force: true });
  spawnSync("sync"); // start every run with no dirty pages left by the one before
}

const cases = {
  [`sluice-pcap split --parts ${parts}`]: () =>
    timed("node", [cli, "split", input, "--parts", String(parts), "-o", splitDir]),
  "tcpdump -r -w": () => timed("tcpdump", ["-r", input, "-w", tcpdumpOut]),
};
const samples = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
for (let i = 0; i <= runs; i++) {
  for (const [name, run] of Object.entries(cases)) {
    clean();
    const sample = run();
    if (i > 0) samples[name].push(sample); // run 0 warms the page cache
  }
}

// The split must be whole: as many bytes of records out as in (each part repeats the 24-byte header).
clean();
timed("node", [cli, "split", input, "--parts", String(parts), "-o", splitDir]);
const files = readdirSync(splitDir);
const outBytes = files.reduce((n, f) => n + statSync(join(splitDir, f)).size - 24, 0);
const inputBytes = statSync(input).size;
if (outBytes !== inputBytes - 24)
  throw new Error(`split wrote ${outBytes} record bytes, input has ${inputBytes - 24}`);
clean();
rmSync(splitDir, { recursive: true, force: true });

const inputMB = inputBytes / 1e6;
const packets = JSON.parse(
  execFileSync("node", [cli, "info", "--json", input], { encoding: "utf8" }),
).packets;
console.log(`input: ${input}, ${inputMB.toFixed(0)} MB, ${packets} packets; ${runs} runs each, medians`);
const results = Object.fromEntries(
  Object.entries(samples).map(([name, s]) => [
    name,
    {
      seconds: median(s.map((x) => x.seconds)),
      rssMB: Math.max(...s.map((x) => x.rssMB)),
      all: s.map((x) => x.seconds),
    },
  ]),
);
for (const [name, r] of Object.entries(results)) {
  console.log(
    `${name.padEnd(30)} ${r.seconds.toFixed(3).padStart(7)} s ${(inputMB / r.seconds).toFixed(0).padStart(6)} MB/s  peak RSS ${r.rssMB.toFixed(1).padStart(6)} MB  runs ${r.all.map((x) => x.toFixed(2)).join(" ")}`,
  );
}
const [ours, theirs] = Object.values(results);
const ratio = theirs.seconds / ours.seconds;
console.log(
  `split: tcpdump ${theirs.seconds.toFixed(3)} s / sluice ${ours.seconds.toFixed(3)} s = ratio ${ratio.toFixed(2)} (target >= 1.0; ${files.length} parts)`,
);
console.log(JSON.stringify({ bench: "sluice-pcap split", inputMB, packets, parts, runs, results, ratio }));
