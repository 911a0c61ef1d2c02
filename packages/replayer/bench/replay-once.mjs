#!/usr/bin/env node
// One replay with @sluice/replayer, as its own process (as sluice-node would run it): replays the files
// into the interface and prints the stats of each file as one JSON line.
// usage: [BENCH_TIMER=spin|sleep] [BENCH_PACKET_IO=native|pcap] replay-once.mjs IFACE NETNS SPEED FILE...
import { parseSpeed, Replayer } from "../dist/index.js";

const [iface, netns, speed, ...files] = process.argv.slice(2);
const packetIo = process.env.BENCH_PACKET_IO;
const replayer = new Replayer({
  timer: process.env.BENCH_TIMER ?? "spin",
  output: {
    type: "interface",
    interface: iface,
    ...(netns && netns !== "-" ? { netns } : {}),
    ...(packetIo ? { packetIo } : {}),
  },
  speed: parseSpeed(speed),
});
await replayer.start();
const used = replayer.packetIo;
if (packetIo && used !== packetIo) throw new Error(`asked for ${packetIo}, got ${used}`);
const stats = [];
for (const file of files) stats.push(await replayer.replayFile(file));
await replayer.stop();
console.log(JSON.stringify(stats));
