// Load generator for the lab: `node http-load.js JSON` where JSON is
// { "url": "http://10.249.1.1:8080", "requests": 100, "min": 200, "max": 65536, "concurrency": 4 }.
// Response sizes are log-uniform between min and max (many small objects, a few large ones), over
// keep-alive connections. Prints {"requests":N,"bytes":N} when done.
import { Agent, get } from "node:http";

interface LoadPlan {
  url: string;
  requests: number;
  min: number;
  max: number;
  concurrency: number;
}

const plan = JSON.parse(process.argv[2] ?? "{}") as LoadPlan;
const agent = new Agent({ keepAlive: true, maxSockets: plan.concurrency });
let seed = 12345 + plan.requests;
const random = (): number => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x80000000;
};
const size = (): number =>
  Math.round(Math.exp(Math.log(plan.min) + random() * (Math.log(plan.max) - Math.log(plan.min))));

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
    bytes += await fetchOne(size());
    done++;
  }
}

await Promise.all(Array.from({ length: Math.max(1, plan.concurrency) }, worker));
agent.destroy();
console.log(JSON.stringify({ requests: done, bytes }));
