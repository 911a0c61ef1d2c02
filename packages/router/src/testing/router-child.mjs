// A router in a process of its own, for crash tests: routes every pcap in READY, prints "idle" and exits.
// Usage: node router-child.mjs CONFIG.json READY
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Router } from "@sluice/router";

const [configPath, ready] = process.argv.slice(2);
const router = new Router(JSON.parse(readFileSync(configPath, "utf8")));
// One line per step, so a crash test can kill at a chosen point of the work.
router.on("delivered", (e) => process.stdout.write(`delivered ${e.file} ${e.destination}\n`));
router.on("dispatched", (e) => process.stdout.write(`dispatched ${e.file}\n`));
await router.start();
for (const name of readdirSync(ready)
  .filter((n) => n.endsWith(".pcap"))
  .sort()) {
  if (!router.has(name)) await router.submit(join(ready, name));
}
await router.idle();
await router.stop();
process.stdout.write("idle\n");
