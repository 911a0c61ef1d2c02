#!/usr/bin/env node
// The addon's InjectSocket against tcpreplay on a veth lab, back to back on the same frames with the same
// consumer (tcpdump on the peer end): what one batch per call buys before any JavaScript of the replayer
// runs. Each round sends the lab capture (BENCH_CAPTURE_MB, default 60 MB) with:
//   - tcpreplay --topspeed (one send() per frame: its PF_PACKET injection);
//   - InjectSocket, method sendmmsg, in batches of BENCH_BATCH (default 1024) frames per call;
//   - InjectSocket, method tx-ring (PACKET_TX_RING), the same batches;
//   - InjectSocket sendmmsg with one frame per call (what a per-packet binding costs);
//   - the two batch methods again with qdiscBypass.
// Prints packets/s (first to last send, as tcpreplay's "Rated"), CPU µs per packet (user + system, of the
// sending process; tcpreplay's includes reading its file), and the time to open the socket; medians of
// BENCH_RUNS (default 5) rounds with the spread, and each over tcpreplay's.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const dir = process.env.SLUICE_BENCH_DIR ?? "/tmp/sluice-bench";
const sizeMB = Number(process.env.BENCH_CAPTURE_MB ?? 60);
const runs = Number(process.env.BENCH_RUNS ?? 5);
const batch = Number(process.env.BENCH_BATCH ?? 1024);
const addonPath = fileURLToPath(new URL("../build/Release/packet_io.node", import.meta.url));

const { labUnavailableReason, makeLabCapture, createLab, median, missingTools, spread } = await import(
  "@sluice/testlab"
);
const reason = labUnavailableReason() ?? missingTools("tcpreplay", "tcpdump");
if (reason) {
  console.log(`packet-io inject bench skipped: it needs ${reason}`);
  process.exit(0);
}
if (!existsSync(addonPath)) {
  console.log(`packet-io inject bench skipped: the addon is not built (${addonPath})`);
  process.exit(0);
}
mkdirSync(dir, { recursive: true });
const capture = join(dir, `lab-${sizeMB}M.pcap`);
if (!existsSync(capture)) {
  console.log(`making a ${sizeMB} MB lab capture in ${capture}...`);
  await makeLabCapture(capture, { bytes: sizeMB * 1e6 });
}

// The sender: reads the capture into one buffer first (not timed), then sends it all and reports.
const sender = join(dir, "inject-bench-sender.mjs");
writeFileSync(
  sender,
  `import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
const addon = createRequire(import.meta.url)(${JSON.stringify(addonPath)});
const { readCaptureSync } = await import(${JSON.stringify(import.meta.resolve("@sluice/pcap-format"))});
const [iface, method, file, per, bypass] = process.argv.slice(2);
const packets = readCaptureSync(new Uint8Array(readFileSync(file))).packets;
const bytes = Buffer.concat(packets.map((p) => p.data));
const positions = new Uint32Array(packets.length * 2);
let at = 0;
packets.forEach((p, i) => { positions[2 * i] = at; positions[2 * i + 1] = p.data.length; at += p.data.length; });
const opening = performance.now();
const socket = new addon.InjectSocket({ interface: iface, method, qdiscBypass: bypass === "1" });
const openMs = performance.now() - opening;
const cpu = process.cpuUsage();
const started = performance.now();
for (let i = 0; i < packets.length; ) i += socket.send(bytes, positions, i, Math.min(Number(per), packets.length - i));
const ms = performance.now() - started;
const used = process.cpuUsage(cpu);
socket.close();
console.log(JSON.stringify({ pps: packets.length / ms * 1000, cpuUs: (used.user + used.system) / packets.length, openMs }));
`,
);

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");

const lab = await createLab();
try {
  const filter = await lab.quietFilter();
  const ours = (method, per, bypass) => () => {
    const run = spawnSync(
      "ip",
      [
        "netns",
        "exec",
        lab.a.netns,
        process.execPath,
        sender,
        lab.a.iface,
        method,
        capture,
        String(per),
        bypass ? "1" : "0",
      ],
      { encoding: "utf8" },
    );
    if (run.status !== 0) throw new Error(`sender failed: ${run.stderr}`);
    return JSON.parse(run.stdout);
  };
  const tcpreplay = () => {
    const run = spawnSync(
      "ip",
      [
        "netns",
        "exec",
        lab.a.netns,
        "/usr/bin/time",
        "-f",
        "cpu %U %S",
        "tcpreplay",
        "-i",
        lab.a.iface,
        "--topspeed",
        capture,
      ],
      { encoding: "utf8" },
    );
    if (run.status !== 0) throw new Error(`tcpreplay failed: ${run.stderr}`);
    const sent = Number(/Actual: (\d+) packets/.exec(run.stdout)?.[1]);
    const [, user, system] = /cpu ([\d.]+) ([\d.]+)/.exec(run.stderr) ?? [];
    return {
      pps: Number(/Rated: [\d.]+ Bps, [\d.]+ Mbps, ([\d.]+) pps/.exec(run.stdout)?.[1]),
      cpuUs: ((Number(user) + Number(system)) * 1e6) / sent,
      openMs: Number.NaN,
    };
  };
  const contenders = [
    ["tcpreplay --topspeed", tcpreplay],
    [`sendmmsg, ${batch} per call`, ours("sendmmsg", batch, false)],
    [`tx-ring, ${batch} per call`, ours("tx-ring", batch, false)],
    ["sendmmsg, 1 per call", ours("sendmmsg", 1, false)],
    [`sendmmsg + qdiscBypass`, ours("sendmmsg", batch, true)],
    [`tx-ring + qdiscBypass`, ours("tx-ring", batch, true)],
  ];
  console.log(`${capture}, ${runs} rounds; load average at start ${load()}`);
  const results = contenders.map(() => []);
  for (let round = 0; round < runs; round++) {
    for (const [c, [, fn]] of contenders.entries()) {
      const peerFile = join(dir, "inject-bench-peer.pcap");
      const cap = await lab.capture(peerFile, { on: "b", filter });
      const result = fn();
      result.received = (await cap.stop()).packets;
      rmSync(peerFile, { force: true });
      results[c].push(result);
    }
    console.log(
      `  round ${round + 1}: ${contenders.map(([name], c) => `${name} ${Math.round(results[c].at(-1).pps)}`).join("; ")}`,
    );
  }
  const peer = median(results[0].map((r) => r.pps));
  console.log("median (spread):");
  for (const [c, [name]] of contenders.entries()) {
    const list = results[c];
    const pps = list.map((r) => r.pps);
    const cpu = list.map((r) => r.cpuUs);
    const open = list.map((r) => r.openMs);
    console.log(
      `  ${name.padEnd(28)} ${String(Math.round(median(pps))).padStart(7)} pps (${spread(pps)})  ratio ${(median(pps) / peer).toFixed(2)}` +
        `   CPU ${median(cpu).toFixed(2)} µs/packet (${spread(cpu, 2)})` +
        (c > 0 ? `   open ${median(open).toFixed(2)} ms` : "") +
        `   peer got ${median(list.map((r) => r.received))}`,
    );
  }
  console.log(`load average at end: ${load()}`);
} finally {
  await lab.destroy();
}
