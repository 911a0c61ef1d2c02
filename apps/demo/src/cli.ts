import { parseArgs } from "node:util";
import { labUnavailableReason } from "@sluice/testlab";
import { type DemoSummary, runDemo } from "./demo.js";

const USAGE = `usage: sluice-demo [--seconds N] [--rotate-seconds N] [--strategy round-robin|least-backlog|flow]
                   [--speed original|topspeed|Nx] [--load N] [--dir DIR] [--json]

Runs the whole dispatcher on this machine, inside network namespaces it creates and removes: a traffic source
(HTTP, UDP, ICMP between two namespaces), sluice-master capturing it and rotating every few seconds, a pool of
two sluice-node nodes replaying into their own owlh interfaces (tcpdump on the other end stands in for the
sensor), and an alone folder (as for Arkime). Prints a summary table. Needs root.

  --seconds N          seconds of traffic (default 40; the whole run takes about 20 s more)
  --rotate-seconds N   master rotation interval (default 5, from examples/demo/master.json)
  --strategy S         pool strategy (default round-robin)
  --speed S            node replay speed (default original, from examples/demo/node.json)
  --load N             traffic scale: 1 is about 750 packets/s (default 1)
  --dir DIR            working folder (default /tmp/sluice-demo; emptied first, kept after for a look)
  --json               print the summary as JSON instead of a table`;

function table(summary: DemoSummary): string {
  const rows: [string, string][] = [];
  rows.push(["packets sent (tcpdump at the source)", String(summary.packetsSent)]);
  rows.push(["packets captured by the master", String(summary.master.packetsCaptured)]);
  rows.push(["packets dropped by the kernel", String(summary.master.droppedByKernel)]);
  rows.push(["files rotated", String(summary.master.filesRotated)]);
  for (const [name, node] of Object.entries(summary.pool)) {
    rows.push([`files delivered to ${name}`, String(node.filesDelivered)]);
    rows.push([`files replayed by ${name}`, String(node.filesReplayed)]);
    rows.push([`packets replayed by ${name}`, String(node.packetsReplayed)]);
    rows.push([`packets seen by ${name}'s sensor`, String(summary.sensors[name]?.packets ?? 0)]);
  }
  for (const [name, alone] of Object.entries(summary.alone)) {
    rows.push([`files in alone consumer ${name}`, String(alone.files)]);
    rows.push([`packets in alone consumer ${name}`, String(alone.packets)]);
  }
  rows.push([
    "every captured frame seen by exactly one sensor",
    summary.poolMatchesAlone
      ? "yes"
      : `no (${summary.missingFromPool} missing, ${summary.extraInPool} extra)`,
  ]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n");
}

async function main(): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      options: {
        seconds: { type: "string" },
        "rotate-seconds": { type: "string" },
        strategy: { type: "string" },
        speed: { type: "string" },
        load: { type: "string" },
        dir: { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    process.stderr.write(`sluice-demo: ${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values["help"]) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const number = (flag: string): number | undefined => {
    const text = values[flag];
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!Number.isFinite(n) || n <= 0)
      throw new RangeError(`--${flag} wants a positive number, got "${text}"`);
    return n;
  };
  const reason = labUnavailableReason();
  if (reason) {
    process.stderr.write(`sluice-demo: the demo lab needs ${reason}\n`);
    return 1;
  }
  try {
    const seconds = number("seconds");
    const rotateSeconds = number("rotate-seconds");
    const load = number("load");
    const summary = await runDemo({
      ...(seconds !== undefined && { seconds }),
      ...(rotateSeconds !== undefined && { rotateSeconds }),
      ...(load !== undefined && { load }),
      ...(typeof values["strategy"] === "string" && { strategy: values["strategy"] }),
      ...(typeof values["speed"] === "string" && { speed: values["speed"] }),
      ...(typeof values["dir"] === "string" && { dir: values["dir"] }),
      progress: (line) => process.stderr.write(`sluice-demo: ${line}\n`),
    });
    process.stdout.write(values["json"] ? `${JSON.stringify(summary, null, 2)}\n` : `\n${table(summary)}\n`);
    return summary.poolMatchesAlone ? 0 : 1;
  } catch (error) {
    if (error instanceof RangeError) {
      process.stderr.write(`sluice-demo: ${error.message}\n`);
      return 2;
    }
    process.stderr.write(`sluice-demo: ${(error as Error).stack ?? error}\n`);
    return 1;
  }
}

process.exitCode = await main();
