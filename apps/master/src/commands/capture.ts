import { mkdirSync } from "node:fs";
import { parseArgs } from "node:util";
import type { CaptureStats } from "@sluice/capture";
import { type FileManifest, RotatingCapture, type RotationPolicy, salvageDirectory } from "@sluice/rotator";
import { DirectoryLock, SpoolError } from "@sluice/spool";
import { UsageError } from "../usage.js";

const OPTIONS = {
  interface: { type: "string" },
  out: { type: "string" },
  filter: { type: "string" },
  snaplen: { type: "string" },
  "rotate-seconds": { type: "string" },
  align: { type: "boolean" },
  "rotate-mib": { type: "string" },
  "rotate-packets": { type: "string" },
  "keep-empty": { type: "boolean" },
  duration: { type: "string" },
  count: { type: "string" },
  user: { type: "string" },
  name: { type: "string" },
  "buffer-mib": { type: "string" },
  netns: { type: "string" },
  workers: { type: "string" },
  "packet-io": { type: "string" },
} as const;

function number(values: Record<string, unknown>, name: string, integer: boolean): number | undefined {
  const text = values[name];
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new UsageError(
      `--${name} must be a positive ${integer ? "integer" : "number"}, not "${String(text)}"`,
    );
  }
  return value;
}

/** `sluice-master capture`: one interface into rotated files, printing each path as it is ready. */
export async function runCapture(args: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const iface = values["interface"];
  const out = values["out"];
  if (typeof iface !== "string" || iface === "") throw new UsageError("capture needs --interface IF");
  if (typeof out !== "string" || out === "") throw new UsageError("capture needs --out DIR");
  const policy: RotationPolicy = { seconds: number(values, "rotate-seconds", false) ?? 60 };
  if (values["align"]) policy.align = true;
  if (values["keep-empty"]) policy.keepEmpty = true;
  const mib = number(values, "rotate-mib", false);
  if (mib !== undefined) policy.mib = mib;
  const packets = number(values, "rotate-packets", true);
  if (packets !== undefined) policy.packets = packets;
  const duration = number(values, "duration", false);
  const count = number(values, "count", true);
  const snaplen = number(values, "snaplen", true);
  const bufferMib = number(values, "buffer-mib", true);
  const workers = number(values, "workers", true);
  const packetIo = values["packet-io"];
  if (packetIo !== undefined && packetIo !== "auto" && packetIo !== "native" && packetIo !== "pcap") {
    throw new UsageError(`--packet-io must be auto, native or pcap, not "${String(packetIo)}"`);
  }
  if (workers !== undefined && workers > 1 && count !== undefined) {
    throw new UsageError("--count needs one worker: each worker sees only its share of the flows");
  }

  mkdirSync(out, { recursive: true });
  // A running master's <spool>/ready: its start salvaged our open files, ours would salvage its. (Captures
  // may share a folder with each other, each under its own --name.)
  try {
    await DirectoryLock.ensureFree(out);
  } catch (error) {
    if (!SpoolError.isInstance(error)) throw error;
    process.stderr.write(`sluice-master: ${error.message}\n`);
    return 1;
  }
  const print = (manifest: FileManifest): void => {
    process.stdout.write(`${manifest.path}\n`);
  };
  const salvage = await salvageDirectory(out, { keepEmpty: policy.keepEmpty ?? false });
  for (const manifest of salvage.finished) print(manifest);
  for (const aside of salvage.setAside) {
    process.stderr.write(`sluice-master: set aside ${aside.path}: ${aside.reason}: ${aside.message}\n`);
  }

  // Nothing else runs here: with the addon, one worker and no --netns/--user, capture in this process.
  const capture = new RotatingCapture({
    interface: iface,
    dir: out,
    policy,
    inProcess: true,
    ...(typeof values["filter"] === "string" && { filter: values["filter"] }),
    ...(snaplen !== undefined && { snaplen }),
    ...(count !== undefined && { maxPackets: count }),
    ...(typeof values["user"] === "string" && { user: values["user"] }),
    ...(typeof values["name"] === "string" && { name: values["name"] }),
    ...(bufferMib !== undefined && { bufferSize: bufferMib * 1024 * 1024 }),
    ...(typeof values["netns"] === "string" && { netns: values["netns"] }),
    ...(workers !== undefined && { workers }),
    ...(packetIo !== undefined && { packetIo }),
  });
  let files = salvage.finished.length;
  capture.on("file", (manifest) => {
    files++;
    print(manifest);
  });
  capture.on("spool-error", (error) => process.stderr.write(`sluice-master: ${error.message}\n`));
  capture.on("warning", (warning) => process.stderr.write(`sluice-master: warning: ${warning}\n`));

  await capture.start();
  const how = `${capture.packetIo === "native" ? "packet-io addon" : "node_pcap"}${workers && workers > 1 ? `, ${workers} fanout workers` : ""}${capture.inProcess ? ", in-process" : ""}`;
  process.stderr.write(`sluice-master: capturing on ${iface} (${how}), files in ${out}\n`);
  let lost: string | null = null;
  const stopped = new Promise<CaptureStats>((resolve, reject) => {
    let stopping = false;
    const stop = (): void => {
      if (stopping) return;
      stopping = true;
      capture.stop().then(resolve, reject);
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    // A closed terminal stops it as tcpdump does, files published (a capture child used to outlive its
    // parent's hangup and finish them; in-process, Node's default would end the process mid-file).
    process.once("SIGHUP", stop);
    capture.once("count-reached", stop);
    capture.once("error", reject);
    // As tcpdump exits on "The interface disappeared": what was written is published first.
    capture.once("source-down", (error) => {
      lost = error.message;
      stop();
    });
    if (duration !== undefined) setTimeout(stop, duration * 1000).unref();
  });
  const stats = await stopped;
  process.stderr.write(`${summaryLine(stats, files)}\n`);
  return exitStatus(stats, lost);
}

/**
 * tcpdump's counters line, with where every captured packet went: captured = written + dropped by spool
 * (by reason); the kernel's and the interface's drops never reached the capture.
 */
export function summaryLine(stats: CaptureStats, files: number): string {
  const reasons = Object.entries(stats.droppedByConsumerReasons ?? {})
    .filter(([, count]) => count > 0)
    .map(([reason, count]) => `${reason} ${count}`);
  const why = reasons.length > 0 ? ` (${reasons.join(", ")})` : "";
  return `${stats.captured} packets captured, ${stats.droppedByKernel} dropped by kernel, ${stats.droppedByInterface} dropped by interface, ${stats.droppedByConsumer} dropped by spool${why}, ${stats.written} written to ${files} files`;
}

// Non-zero, with the reason on stderr, when the interface was lost or packets were captured and not
// written: a capture that lost data never looks like a good one.
function exitStatus(stats: CaptureStats, lost: string | null): number {
  if (lost !== null) {
    process.stderr.write(`sluice-master: ${lost}\n`);
    return 1;
  }
  if (stats.droppedByConsumer > 0) {
    const what = stats.written === 0 ? "none of them was written" : `${stats.written} were written`;
    process.stderr.write(
      `sluice-master: ${stats.droppedByConsumer} of ${stats.captured} captured packets could not be written to the spool (${what})\n`,
    );
    return 1;
  }
  return 0;
}
