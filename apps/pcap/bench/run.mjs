#!/usr/bin/env node
// sluice-pcap convert/verify against tcpdump on the same lab capture, back to back in one run.
// Prints medians of several runs, the ratio (tcpdump time / ours: above 1.0 means Sluice is faster) and
// peak RSS, and checks RSS stays flat from a 100 MB prefix to the whole file.
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, rmSync, statSync, truncateSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const runs = Number(process.env.BENCH_RUNS ?? 7);
const sizeMB = Number(process.env.BENCH_CAPTURE_MB ?? 600);
const dir = process.env.SLUICE_BENCH_DIR ?? "/tmp/sluice-bench";
const cli = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const input = join(dir, `lab-${sizeMB}M.pcap`);
const prefix = join(dir, `lab-${sizeMB}M-first100M.pcap`);

mkdirSync(dir, { recursive: true });
if (!existsSync(input)) {
  const { labUnavailableReason, makeLabCapture } = await import("@sluice/testlab");
  const reason = labUnavailableReason();
  if (reason) {
    console.log(`sluice-pcap bench skipped: the lab capture needs ${reason}`);
    process.exit(0);
  }
  console.log(`making a ${sizeMB} MB lab capture in ${input} (real kernel traffic through a veth pair)...`);
  const made = await makeLabCapture(input, { bytes: sizeMB * 1e6 });
  console.log(`  ${made.packets} packets, ${made.bytes} bytes`);
}
if (!existsSync(prefix)) {
  // Cut at a record boundary: verify the first 100 MB and keep what is complete.
  copyFileSync(input, prefix);
  truncateSync(prefix, 100e6);
  const { verifyCapture } = await import("@sluice/pcap-format");
  truncateSync(prefix, (await verifyCapture(prefix)).validBytes);
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

function bench(file) {
  const out = join(dir, "out.pcap");
  const cases = {
    "sluice-pcap convert": () => timed("node", [cli, "convert", file, "-o", out]),
    "tcpdump -r -w": () => timed("tcpdump", ["-r", file, "-w", out]),
    "sluice-pcap verify": () => timed("node", [cli, "verify", file]),
    "tcpdump -r -w /dev/null": () => timed("tcpdump", ["-r", file, "-w", "/dev/null"]),
  };
  const samples = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (let i = 0; i <= runs; i++) {
    for (const [name, run] of Object.entries(cases)) {
      rmSync(out, { force: true });
      spawnSync("sync"); // start every run with no dirty pages left by the one before
      const sample = run();
      if (i > 0) samples[name].push(sample); // run 0 warms the page cache
    }
  }
  rmSync(out, { force: true });
  return Object.fromEntries(
    Object.entries(samples).map(([name, s]) => [
      name,
      {
        seconds: median(s.map((x) => x.seconds)),
        rssMB: Math.max(...s.map((x) => x.rssMB)),
        all: s.map((x) => x.seconds),
      },
    ]),
  );
}

const inputMB = statSync(input).size / 1e6;
const packets = JSON.parse(
  execFileSync("node", [cli, "info", "--json", input], { encoding: "utf8" }),
).packets;
console.log(`input: ${input}, ${inputMB.toFixed(0)} MB, ${packets} packets; ${runs} runs each, medians`);
const whole = bench(input);
const small = bench(prefix);

const row = (name, r) =>
  `${name.padEnd(26)} ${r.seconds.toFixed(3).padStart(7)} s ${(inputMB / r.seconds).toFixed(0).padStart(6)} MB/s  peak RSS ${r.rssMB.toFixed(1).padStart(6)} MB  runs ${r.all.map((x) => x.toFixed(2)).join(" ")}`;
for (const name of Object.keys(whole)) console.log(row(name, whole[name]));
const ratio = (ours, theirs) => whole[theirs].seconds / whole[ours].seconds;
const convertRatio = ratio("sluice-pcap convert", "tcpdump -r -w");
const verifyRatio = ratio("sluice-pcap verify", "tcpdump -r -w /dev/null");
console.log(
  `convert: tcpdump ${whole["tcpdump -r -w"].seconds.toFixed(3)} s / sluice ${whole["sluice-pcap convert"].seconds.toFixed(3)} s = ratio ${convertRatio.toFixed(2)} (target >= 1.0)`,
);
console.log(
  `verify:  tcpdump ${whole["tcpdump -r -w /dev/null"].seconds.toFixed(3)} s / sluice ${whole["sluice-pcap verify"].seconds.toFixed(3)} s = ratio ${verifyRatio.toFixed(2)} (target >= 1.0)`,
);
for (const name of ["sluice-pcap convert", "sluice-pcap verify"]) {
  console.log(
    `${name} peak RSS: ${small[name].rssMB.toFixed(1)} MB on 100 MB, ${whole[name].rssMB.toFixed(1)} MB on ${inputMB.toFixed(0)} MB (flat: ${whole[name].rssMB < small[name].rssMB * 1.25 + 4 ? "yes" : "NO"})`,
  );
}
console.log(
  JSON.stringify({ bench: "sluice-pcap", inputMB, packets, runs, whole, small, convertRatio, verifyRatio }),
);
