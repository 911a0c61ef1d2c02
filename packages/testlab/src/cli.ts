#!/usr/bin/env node
// sluice-lab: make lab captures from the shell. Exit 0 on success, 1 when the lab fails, 2 on usage errors.
import { parseArgs } from "node:util";
import { labUnavailableReason } from "./availability.js";
import { cleanupStaleLabs } from "./cleanup.js";
import { makeLabCapture } from "./make-lab-capture.js";
import { parseSize } from "./size.js";

const USAGE = `Usage:
  sluice-lab capture -o FILE --bytes SIZE [--snaplen N] [--precision micro|nano]
      Capture real kernel traffic (HTTP, UDP, ICMP over IPv4 and IPv6) between two network namespaces
      until FILE holds at least SIZE bytes (500M, 2G, 64K; decimal units). Prints one JSON line:
      {"path","packets","bytes","seconds","receivedByFilter","droppedByKernel"}.
  sluice-lab cleanup
      Remove lab namespaces left behind by processes that no longer run. Prints {"removed":[...]}.
  sluice-lab --help
Needs root, ip (iproute2), tcpdump and ethtool. Traffic never leaves the lab's namespaces.`;

class UsageError extends Error {}

function captureOptions(args: string[]): {
  output: string;
  bytes: number;
  snaplen?: number;
  precision?: "micro" | "nano";
} {
  let values: { output?: string; bytes?: string; snaplen?: string; precision?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args,
      options: {
        output: { type: "string", short: "o" },
        bytes: { type: "string" },
        snaplen: { type: "string" },
        precision: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) help();
  if (values.output === undefined || values.output === "") throw new UsageError("capture needs -o FILE");
  if (values.bytes === undefined) throw new UsageError("capture needs --bytes SIZE");
  let bytes: number;
  try {
    bytes = parseSize(values.bytes);
  } catch (error) {
    throw new UsageError(`--bytes: ${(error as Error).message}`);
  }
  if (bytes < 1) throw new UsageError("--bytes must be at least 1");
  const snaplen = values.snaplen === undefined ? undefined : Number(values.snaplen);
  if (snaplen !== undefined && (!/^\d+$/.test(values.snaplen ?? "") || snaplen < 1 || snaplen > 262144)) {
    throw new UsageError(`--snaplen must be an integer from 1 to 262144, not "${values.snaplen}"`);
  }
  const precision = values.precision;
  if (precision !== undefined && precision !== "micro" && precision !== "nano") {
    throw new UsageError(`--precision is micro or nano, not "${precision}"`);
  }
  return {
    output: values.output,
    bytes,
    ...(snaplen !== undefined && { snaplen }),
    ...(precision !== undefined && { precision }),
  };
}

function help(): never {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

function needLab(): void {
  const reason = labUnavailableReason();
  if (reason) {
    process.stderr.write(`sluice-lab: the traffic lab needs ${reason}\n`);
    process.exit(1);
  }
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === "--help" || command === "-h" || command === "help") help();
  if (command === undefined) throw new UsageError("missing command");
  if (command === "cleanup") {
    if (rest.length > 0) throw new UsageError(`cleanup takes no arguments, got "${rest.join(" ")}"`);
    needLab();
    console.log(JSON.stringify({ removed: await cleanupStaleLabs() }));
    return;
  }
  if (command !== "capture") throw new UsageError(`unknown command "${command}"`);
  const { output, ...capture } = captureOptions(rest);
  needLab();
  const made = await makeLabCapture(output, capture);
  console.log(
    JSON.stringify({
      path: made.path,
      packets: made.packets,
      bytes: made.bytes,
      seconds: Math.round(made.seconds * 100) / 100,
      receivedByFilter: made.receivedByFilter,
      droppedByKernel: made.droppedByKernel,
    }),
  );
}

try {
  await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError) {
    process.stderr.write(`sluice-lab: ${error.message}\n\n${USAGE}\n`);
    process.exit(2);
  }
  process.stderr.write(`sluice-lab: ${(error as Error).message}\n`);
  process.exit(1);
}
