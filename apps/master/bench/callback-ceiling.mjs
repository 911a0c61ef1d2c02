#!/usr/bin/env node
// How many packets per second reach JavaScript, without a kernel or a sender in the way: libpcap reads the
// lab capture offline (the same pcap_dispatch a live capture uses) and the packets are written out as pcap
// records to /dev/null, three ways, interleaved run by run:
// - the packet-io addon: pcap_dispatch's callback in C writes whole batches of records into one buffer;
//   JavaScript runs once per batch and writes it with one write (what the capture child does);
// - node_pcap: one JavaScript call per packet, appending header and bytes to a 1 MiB batch buffer (the
//   fallback's path);
// - the peer, `tcpdump -r IN -w /dev/null`: libpcap's own C path over the same file.
// Two figures each: packets per second of wall-clock time (tcpdump's includes starting its process, a few
// ms), and packets per CPU-second (user + system: ours from process.cpuUsage around the loop, tcpdump's
// from /usr/bin/time), which a busy shared machine disturbs much less.
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, openSync, writeSync } from "node:fs";
import { createRequire } from "node:module";
import { loadavg } from "node:os";
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
let addon = null;
try {
  const status = require("@sluice/packet-io").loadAddon();
  addon = status.addon;
  if (!addon) console.log(`the packet-io addon is left out: ${status.reason}`);
} catch (error) {
  console.log(`the packet-io addon is left out: ${error.message}`);
}

function seconds(start) {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function cpuSince(start) {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1e6;
}

function viaAddon() {
  // 1 MiB: batches end when less than snaplen + 16 (256 KiB here) is left; a buffer that stays in cache.
  const buffer = Buffer.allocUnsafeSlow(1 << 20);
  const offsets = new Uint32Array(65537);
  const out = openSync("/dev/null", "w");
  let packets = 0;
  const start = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  const handle = new addon.CaptureHandle({
    device: input,
    offline: true,
    filter: "",
    snaplen: 262144,
    promiscuous: false,
    bufferSize: 0,
    timeoutMs: 100,
  });
  for (;;) {
    const count = handle.dispatch(buffer, 0, offsets, 65536);
    if (count === 0) break;
    packets += count;
    writeSync(out, buffer, offsets[0], offsets[count] - offsets[0]);
  }
  handle.close();
  const elapsed = seconds(start);
  const cpuSeconds = cpuSince(cpu);
  closeSync(out);
  return { packets, seconds: elapsed, cpu: cpuSeconds };
}

function viaNodePcap() {
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
  const cpu = process.cpuUsage();
  session.open_offline(input, "", 0, 262144, "", onPacket, false, 0, () => {}, false);
  session.dispatch(data, header);
  writeSync(out, batch, 0, used);
  const elapsed = seconds(start);
  const cpuSeconds = cpuSince(cpu);
  closeSync(out);
  return { packets, seconds: elapsed, cpu: cpuSeconds };
}

function tcpdump() {
  const start = process.hrtime.bigint();
  const run = spawnSync("/usr/bin/time", ["-f", "TIME %U %S", "tcpdump", "-r", input, "-w", "/dev/null"], {
    encoding: "utf8",
  });
  if (run.status !== 0) throw new Error(`tcpdump -r failed: ${run.stderr}`);
  const elapsed = seconds(start);
  const m = /TIME ([\d.]+) ([\d.]+)/.exec(run.stderr);
  return { seconds: elapsed, cpu: Number(m[1]) + Number(m[2]) };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const spread = (xs) => `${(Math.min(...xs) / 1e6).toFixed(2)}–${(Math.max(...xs) / 1e6).toFixed(2)}`;
const mpps = (x) => (x / 1e6).toFixed(2);

const loadBefore = loadavg()
  .map((x) => x.toFixed(2))
  .join(" ");
tcpdump(); // warm the page cache
const rates = { addon: [], nodePcap: [], tcpdump: [] };
const perCpu = { addon: [], nodePcap: [], tcpdump: [] };
let packets = 0;
for (let i = 0; i < runs; i++) {
  const pcap = viaNodePcap();
  packets = pcap.packets;
  rates.nodePcap.push(pcap.packets / pcap.seconds);
  perCpu.nodePcap.push(pcap.packets / pcap.cpu);
  if (addon) {
    const native = viaAddon();
    if (native.packets !== packets)
      throw new Error(`the addon read ${native.packets} packets, node_pcap ${packets}`);
    rates.addon.push(native.packets / native.seconds);
    perCpu.addon.push(native.packets / native.cpu);
  }
  // The same file: the same packets.
  const peer = tcpdump();
  rates.tcpdump.push(packets / peer.seconds);
  perCpu.tcpdump.push(packets / peer.cpu);
}
const line = (label, key) => {
  const wall = median(rates[key]);
  const cpu = median(perCpu[key]);
  const ratio = (x, peer) => (x / median(peer)).toFixed(2);
  return `  ${label.padEnd(40)} ${mpps(wall)} Mpps (${spread(rates[key])}), ratio ${ratio(wall, rates.tcpdump)}; per CPU-second ${mpps(cpu)} Mpps (${spread(perCpu[key])}), ratio ${ratio(cpu, perCpu.tcpdump)}`;
};
console.log(
  `offline dispatch ceiling, ${packets} packets, medians of ${runs} (spread in Mpps), load average ${loadBefore} -> ${loadavg()
    .map((x) => x.toFixed(2))
    .join(" ")}:`,
);
console.log(line("tcpdump -r -w /dev/null (peer)", "tcpdump"));
if (addon) console.log(line("packet-io addon (one JS call per batch)", "addon"));
console.log(line("node_pcap (one JS call per packet)", "nodePcap"));
console.log("ratios are against tcpdump's medians; target for the addon >= 1.0 (wall clock)");
console.log(
  JSON.stringify({
    bench: "offline-dispatch-ceiling",
    packets,
    addonPps: addon ? median(rates.addon) : null,
    nodePcapPps: median(rates.nodePcap),
    tcpdumpPps: median(rates.tcpdump),
    addonPpsPerCpu: addon ? median(perCpu.addon) : null,
    nodePcapPpsPerCpu: median(perCpu.nodePcap),
    tcpdumpPpsPerCpu: median(perCpu.tcpdump),
    rates,
    perCpu,
  }),
);
