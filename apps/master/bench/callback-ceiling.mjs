#!/usr/bin/env node
// How many packets per second node_pcap's one-call-per-packet path can carry into JavaScript, without a
// kernel or a sender in the way: libpcap reads the lab capture offline (the same pcap_dispatch and
// callback a live capture uses), and the callback does what the capture child does with each packet —
// append its 16-byte header and bytes to a batch buffer that is written out in 1 MiB chunks (to
// /dev/null). The peer is `tcpdump -r IN -w /dev/null`: libpcap's own C path over the same file.
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, openSync, writeSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const dir = process.env.SLUICE_BENCH_DIR ?? "/tmp/sluice-bench";
const input = join(dir, `lab-${process.env.BENCH_CAPTURE_MB ?? 600}M.pcap`);
const runs = Number(process.env.BENCH_RUNS ?? 5);
if (!existsSync(input)) {
  console.log(`callback ceiling skipped: ${input} is missing (run bench/run.mjs first, it makes it)`);
  process.exit(0);
}
const require = createRequire(import.meta.url);
const binding = require("pcap/build/Release/pcap_binding.node");

function ours() {
  const session = new binding.PcapSession();
  const header = Buffer.alloc(16);
  const data = Buffer.alloc(262144);
  const batch = Buffer.allocUnsafe(1 << 20);
  const out = openSync("/dev/null", "w");
  let used = 0;
  let packets = 0;
  const onPacket = () => {
    const caplen = header.readUInt32LE(8);
    if (used + 16 + caplen > batch.length) {
      writeSync(out, batch, 0, used);
      used = 0;
    }
    header.copy(batch, used);
    data.copy(batch, used + 16, 0, caplen);
    used += 16 + caplen;
    packets++;
  };
  const start = process.hrtime.bigint();
  session.open_offline(input, "", 0, 262144, "", onPacket, false, 0, () => {}, false);
  session.dispatch(data, header);
  writeSync(out, batch, 0, used);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  closeSync(out);
  return { packets, seconds };
}

function tcpdump() {
  const start = process.hrtime.bigint();
  const run = spawnSync("tcpdump", ["-r", input, "-w", "/dev/null"], { encoding: "utf8" });
  if (run.status !== 0) throw new Error(`tcpdump -r failed: ${run.stderr}`);
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9 };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
tcpdump(); // warm the page cache
const oursRates = [];
const tcpdumpRates = [];
let packets = 0;
for (let i = 0; i < runs; i++) {
  const r = ours();
  packets = r.packets;
  oursRates.push(r.packets / r.seconds);
  // tcpdump's time includes starting its process (a few ms); ours runs in this one.
  tcpdumpRates.push(r.packets / tcpdump().seconds); // the same file: the same packets
}
const ourRate = median(oursRates);
const peerRate = median(tcpdumpRates);
console.log(
  `node_pcap callback ceiling (${packets} packets, medians of ${runs}): ours ${Math.round(ourRate)} pps, tcpdump -r -w ${Math.round(peerRate)} pps, ratio ${(ourRate / peerRate).toFixed(2)}`,
);
console.log(
  JSON.stringify({ bench: "node-pcap-callback-ceiling", packets, oursPps: ourRate, tcpdumpPps: peerRate }),
);
