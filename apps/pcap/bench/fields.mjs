#!/usr/bin/env node
import { spawnSync } from "node:child_process";
// sluice-pcap fields against tshark -T fields (the same L2-L4 fields) on the first BENCH_FIELDS_MB
// (default 50) of the lab capture, output to /dev/null, back to back in one run; medians of BENCH_RUNS (3).
import { copyFileSync, existsSync, statSync, truncateSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const runs = Number(process.env.BENCH_RUNS ?? 3);
const sizeMB = Number(process.env.BENCH_CAPTURE_MB ?? 600);
const prefixMB = Number(process.env.BENCH_FIELDS_MB ?? 50);
const dir = process.env.SLUICE_BENCH_DIR ?? "/tmp/sluice-bench";
const cli = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const whole = join(dir, `lab-${sizeMB}M.pcap`);
const input = join(dir, `lab-${sizeMB}M-first${prefixMB}M.pcap`);

if (!existsSync(whole)) {
  console.log(`sluice-pcap fields bench skipped: run bench/split.mjs first to make ${whole}`);
  process.exit(0);
}
if (!existsSync(input)) {
  copyFileSync(whole, input);
  truncateSync(input, prefixMB * 1e6);
  const { verifyCapture } = await import("@sluice/pcap-format");
  truncateSync(input, (await verifyCapture(input)).validBytes);
}

const FIELDS = [
  "ip.version",
  "ip.hdr_len",
  "ip.dsfield",
  "ip.len",
  "ip.id",
  "ip.flags",
  "ip.frag_offset",
  "ip.ttl",
  "ip.proto",
  "ip.checksum",
  "ip.src",
  "ip.dst",
  "tcp.srcport",
  "tcp.dstport",
  "tcp.seq_raw",
  "tcp.ack_raw",
  "tcp.hdr_len",
  "tcp.flags",
  "tcp.window_size_value",
  "tcp.checksum",
  "tcp.urgent_pointer",
  "udp.srcport",
  "udp.dstport",
  "udp.length",
  "udp.checksum",
];

function timed(shell) {
  const result = spawnSync("/usr/bin/time", ["-f", "%e %M", "sh", "-c", shell], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`${shell} failed: ${result.stderr}`);
  const [seconds, kb] = result.stderr.trim().split("\n").at(-1).split(" ").map(Number);
  return { seconds, rssMB: kb / 1024 };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const tsharkArgs = [
  "-n",
  "-r",
  input,
  "-o",
  "ip.defragment:FALSE",
  "-T",
  "fields",
  ...FIELDS.flatMap((f) => ["-e", f]),
];
const cases = {
  "sluice-pcap fields": `node "${cli}" fields "${input}" > /dev/null`,
  "tshark -T fields": `tshark ${tsharkArgs.map((a) => `'${a}'`).join(" ")} > /dev/null 2>/dev/null`,
};
const samples = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
for (let i = 0; i <= runs; i++) {
  for (const [name, shell] of Object.entries(cases)) {
    const sample = timed(shell);
    if (i > 0) samples[name].push(sample); // run 0 warms the page cache
  }
}
const inputMB = statSync(input).size / 1e6;
console.log(`input: ${input}, ${inputMB.toFixed(0)} MB; ${runs} runs each, medians`);
const results = {};
for (const [name, s] of Object.entries(samples)) {
  results[name] = { seconds: median(s.map((x) => x.seconds)), all: s.map((x) => x.seconds) };
  console.log(
    `${name.padEnd(22)} ${results[name].seconds.toFixed(3).padStart(7)} s  runs ${results[name].all.map((x) => x.toFixed(2)).join(" ")}`,
  );
}
const ratio = results["tshark -T fields"].seconds / results["sluice-pcap fields"].seconds;
console.log(
  `fields: tshark ${results["tshark -T fields"].seconds.toFixed(3)} s / sluice ${results["sluice-pcap fields"].seconds.toFixed(3)} s = ratio ${ratio.toFixed(2)}`,
);
console.log(JSON.stringify({ bench: "sluice-pcap fields", inputMB, runs, results, ratio }));
