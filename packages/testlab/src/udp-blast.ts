// UDP sender for the lab: `node udp-blast.js JSON` where JSON is
// { "host": "10.249.1.1", "port": 9, "packets": 1000, "min": 60, "max": 1400, "pps": 10000 }.
// Nothing listens on the port by default, so the receiver's kernel answers with ICMP port unreachable
// (rate-limited), as real networks do. Prints {"packets":N,"bytes":N}.
import { createSocket } from "node:dgram";
import { isIPv6 } from "node:net";

interface BlastPlan {
  host: string;
  port: number;
  packets: number;
  min: number;
  max: number;
  pps: number;
}

const plan = JSON.parse(process.argv[2] ?? "{}") as BlastPlan;
const socket = createSocket(isIPv6(plan.host) ? "udp6" : "udp4");
const payload = Buffer.alloc(plan.max);
for (let i = 0; i < payload.length; i++) payload[i] = (i * 131) & 0xff;

let sent = 0;
let bytes = 0;
const batch = Math.max(1, Math.round(plan.pps / 100)); // send in 10 ms batches
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const started = performance.now();
while (sent < plan.packets) {
  const n = Math.min(batch, plan.packets - sent);
  await Promise.all(
    Array.from({ length: n }, (_, i) => {
      const size = plan.min + (((sent + i) * 7907) % (plan.max - plan.min + 1));
      bytes += size;
      return new Promise<void>((resolve) =>
        socket.send(payload, 0, size, plan.port, plan.host, () => resolve()),
      );
    }),
  );
  sent += n;
  const due = (sent / plan.pps) * 1000 - (performance.now() - started);
  if (due > 0) await sleep(due);
}
socket.close();
console.log(JSON.stringify({ packets: sent, bytes }));
