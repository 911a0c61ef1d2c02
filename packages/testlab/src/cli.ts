#!/usr/bin/env node
import { parseArgs } from "node:util";
import { cleanupStaleLabs } from "./cleanup.js";
import { labUnavailableReason, makeLabCapture } from "./lab.js";
import { parseSize } from "./size.js";

const USAGE = `Usage:
  sluice-lab capture -o FILE --bytes SIZE [--snaplen N] [--precision micro|nano]
      make a capture of real kernel traffic (HTTP, UDP, ICMP over IPv4 and IPv6) between two network
      namespaces; SIZE like 500M, 2G, 64K. Prints one JSON line.
  sluice-lab cleanup
      remove lab namespaces left behind by processes that no longer run
Needs root.`;

function usage(message: string): never {
  process.stderr.write(`sluice-lab: ${message}\n\n${USAGE}\n`);
  process.exit(2);
}

const [command, ...rest] = process.argv.slice(2);
if (command === undefined || command === "--help" || command === "-h") {
  process.stdout.write(`${USAGE}\n`);
  process.exit(command === undefined ? 2 : 0);
}
if (command === "cleanup") {
  console.log(JSON.stringify({ removed: cleanupStaleLabs() }));
} else if (command === "capture") {
  let values: Record<string, string | undefined>;
  try {
    values = parseArgs({
      args: rest,
      options: {
        output: { type: "string", short: "o" },
        bytes: { type: "string" },
        snaplen: { type: "string" },
        precision: { type: "string" },
      },
      strict: true,
    }).values;
  } catch (error) {
    usage((error as Error).message);
  }
  const output = values["output"] ?? usage("capture needs -o FILE");
  const bytes = parseSize(values["bytes"] ?? usage("capture needs --bytes SIZE"));
  const precision = values["precision"];
  if (precision !== undefined && precision !== "micro" && precision !== "nano")
    usage("--precision is micro or nano");
  const reason = labUnavailableReason();
  if (reason) {
    process.stderr.write(`sluice-lab: needs ${reason}\n`);
    process.exit(1);
  }
  const result = await makeLabCapture(output, {
    bytes,
    ...(values["snaplen"] !== undefined && { snaplen: Number(values["snaplen"]) }),
    ...(precision !== undefined && { precision }),
  });
  console.log(JSON.stringify(result));
} else {
  usage(`unknown command "${command}"`);
}
