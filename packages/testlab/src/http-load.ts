// HTTP load generator for the lab: `node http-load.js PLAN` where PLAN is JSON like
// { "url": "http://10.249.1.1:8080", "requests": 100, "min": 0, "max": 65536, "concurrency": 4 }.
// Response sizes are log-uniform between min and max (many small objects, a few large ones); with min 0,
// one request in eight is headers-only. Keep-alive connections. Prints {"requests":N,"bytes":N}.
import { Agent, get } from "node:http";
import { exitWithParent } from "./script-lifeline.js";

interface LoadPlan {
  url: string;
  requests: number;
  min: number;
  max: number;
  concurrency: number;
  seed?: number;
}

exitWithParent();
const plan = JSON.parse(process.argv[2] ?? "{}") as LoadPlan;
const agent = new Agent({ keepAlive: true, maxSockets: plan.concurrency });
let seed = (plan.seed ?? 12345) + plan.requests;
const random = (): number => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x80000000;
};
const low = Math.max(1, plan.min);
const size = (): number => {
  if (plan.max === 0 || (plan.min === 0 && random() < 0.125)) return 0;
  return Math.round(Math.exp(Math.log(low) + random() * (Math.log(Math.max(low, plan.max)) - Math.log(low))));
};

function fetchOne(bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    get(`${plan.url}/bytes/${bytes}`, { agent }, (res) => {
      let received = 0;
      res.on("data", (chunk: Buffer) => {
        received += chunk.length;
      });
      res.on("end", () => resolve(received));
      res.on("error", reject);
    }).on("error", reject);
  });
}

let next = 0;
let done = 0;
let bytes = 0;
async function worker(): Promise<void> {
  while (next < plan.requests) {
    next++;
    // Not `bytes += await ...`: that reads `bytes` before the await and loses the other workers' bytes.
    const received = await fetchOne(size());
    bytes += received;
    done++;
  }
}

await Promise.all(Array.from({ length: Math.max(1, plan.concurrency) }, worker));
agent.destroy();
console.log(JSON.stringify({ requests: done, bytes }));
