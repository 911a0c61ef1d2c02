// UDP sender for the lab: `node udp-blast.js PLAN` where PLAN is JSON like
// { "host": "10.249.1.1", "port": 9, "packets": 1000, "min": 20, "max": 1400, "pps": 10000 }.
// Payload sizes spread evenly over [min, max]. Prints {"packets":N,"bytes":N} (payload bytes).
import { createSocket } from "node:dgram";
import { isIPv6 } from "node:net";
import { exitWithParent } from "./script-lifeline.js";

interface BlastPlan {
  host: string;
  port: number;
  packets: number;
  min: number;
  max: number;
  pps: number;
}

exitWithParent();
const plan = JSON.parse(process.argv[2] ?? "{}") as BlastPlan;
const socket = createSocket(isIPv6(plan.host) ? "udp6" : "udp4");
// Replies (from an echo receiver) are part of the traffic; nobody needs to read them.
socket.on("message", () => {});
const payload = Buffer.alloc(plan.max);
for (let i = 0; i < payload.length; i++) payload[i] = (i * 131) & 0xff;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const send = (size: number): Promise<void> =>
  new Promise((resolve, reject) =>
    socket.send(payload, 0, size, plan.port, plan.host, (error) => (error ? reject(error) : resolve())),
  );

let sent = 0;
let bytes = 0;
// Send in 10 ms batches, then sleep until the rate says the next batch is due.
const batch = Math.max(1, Math.round(plan.pps / 100));
const started = performance.now();
while (sent < plan.packets) {
  const n = Math.min(batch, plan.packets - sent);
  const sizes = Array.from(
    { length: n },
    (_, i) => plan.min + (((sent + i) * 7907) % (plan.max - plan.min + 1)),
  );
  await Promise.all(sizes.map(send));
  for (const size of sizes) bytes += size;
  sent += n;
  const due = (sent / plan.pps) * 1000 - (performance.now() - started);
  if (due > 0) await sleep(due);
}
// Let echoes of the last datagrams arrive at an open socket.
await sleep(50);
socket.close();
console.log(JSON.stringify({ packets: sent, bytes }));
