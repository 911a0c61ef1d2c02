import { basename } from "node:path";
import { parseArgs } from "node:util";
import { verifyCapture } from "@sluice/pcap-format";
import {
  type FileReplayStats,
  formatSpeed,
  isFileFault,
  parseSpeed,
  ReplayError,
  Replayer,
  type ReplayOutput,
  type Speed,
} from "@sluice/replayer";
import { formatTotals, progressBar, type ReplayTotals } from "../progress.js";
import { UsageError } from "../usage.js";

interface ReplayFlags {
  interface?: string;
  fifo?: string;
  netns?: string;
  speed?: string;
  pps?: string;
  mbps?: string;
  "max-gap-ms"?: string;
  oversize?: string;
  timer?: string;
  "qdisc-bypass"?: boolean;
}

/** `sluice-node replay --interface IF [--speed …] FILE...`: a tcpreplay-like one-shot. */
export async function runReplay(args: string[]): Promise<number> {
  let values: ReplayFlags;
  let files: string[];
  try {
    ({ values, positionals: files } = parseArgs({
      args,
      options: {
        interface: { type: "string", short: "i" },
        fifo: { type: "string" },
        netns: { type: "string" },
        speed: { type: "string", short: "s" },
        pps: { type: "string" },
        mbps: { type: "string" },
        "max-gap-ms": { type: "string" },
        oversize: { type: "string" },
        timer: { type: "string" },
        "qdisc-bypass": { type: "boolean" },
      },
      allowPositionals: true,
      strict: true,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (files.length === 0) throw new UsageError("replay needs at least one FILE");
  const output = outputOf(values);
  const speed = speedOf(values);
  const maxGapMs = values["max-gap-ms"] === undefined ? undefined : Number(values["max-gap-ms"]);
  if (maxGapMs !== undefined && !(Number.isFinite(maxGapMs) && maxGapMs >= 0)) {
    throw new UsageError(`--max-gap-ms must be a number of milliseconds ≥ 0, not "${values["max-gap-ms"]}"`);
  }
  const oversize = values.oversize;
  if (oversize !== undefined && oversize !== "skip" && oversize !== "truncate") {
    throw new UsageError(`--oversize must be skip or truncate, not "${oversize}"`);
  }
  // Like tcpreplay, a one-shot replay spins by default: the most exact timing, one core busy meanwhile.
  const timer = values.timer ?? "spin";
  if (timer !== "spin" && timer !== "sleep") {
    throw new UsageError(`--timer must be spin or sleep, not "${timer}"`);
  }
  if (values.timer !== undefined && output.type === "fifo") {
    throw new UsageError("--timer goes with --interface, not --fifo");
  }
  const replayer = new Replayer({
    output,
    timer,
    logger: {
      warn: (_event, fields) => process.stderr.write(`sluice-node: ${String(fields?.["message"])}\n`),
    },
    speed,
    ...(maxGapMs !== undefined ? { maxGapMs } : {}),
    ...(oversize !== undefined ? { oversize } : {}),
  });
  const controller = new AbortController();
  const interrupt = (): void => controller.abort();
  process.once("SIGINT", interrupt);
  process.once("SIGTERM", interrupt);
  const tty = process.stderr.isTTY === true;
  const totals: ReplayTotals = {
    files: 0,
    filesFailed: 0,
    packetsSent: 0,
    bytesSent: 0,
    skipped: 0,
    truncated: 0,
    failed: 0,
    durationMs: 0,
  };
  const started = performance.now();
  try {
    await replayer.start();
  } catch (error) {
    process.stderr.write(`sluice-node: ${(error as Error).message}\n`);
    return 1;
  }
  const target =
    output.type === "interface" ? output.interface : output.type === "fifo" ? output.path : output.name;
  process.stderr.write(`replaying ${files.length} files into ${target} at ${formatSpeed(speed)}\n`);
  let lastDraw = 0;
  // The next file is asked for before the one ahead finished, so the Replayer can hand it over early
  // (at topspeed: no gap between files); results are reported in order.
  const begin = (file: string): Promise<FileReplayStats> => {
    // The bar needs the file's packet count: one quick read on a terminal only (≈10× faster than sending).
    const total = tty
      ? verifyCapture(file).then(
          (v) => v.packets,
          () => null,
        )
      : Promise.resolve(null);
    return total.then((packets) =>
      replayer.replayFile(file, {
        signal: controller.signal,
        onProgress: (p) => {
          const now = performance.now();
          if (!tty || now - lastDraw < 100) return;
          lastDraw = now;
          process.stderr.write(`\r\x1b[K${progressBar(basename(p.path), p.packetsSent, packets)}`);
        },
      }),
    );
  };
  let next: Promise<FileReplayStats> | null = begin(files[0]!);
  for (const [i, file] of files.entries()) {
    if (controller.signal.aborted || next === null) break;
    const current: Promise<FileReplayStats> = next;
    next = i + 1 < files.length ? begin(files[i + 1]!) : null;
    totals.files++;
    try {
      const stats = await current;
      add(totals, stats);
      if (tty) process.stderr.write("\r\x1b[K");
      process.stderr.write(
        `${file}: ${stats.packetsSent} packets, ${stats.bytesSent} bytes in ${(stats.durationMs / 1000).toFixed(2)} s` +
          ` (${Math.round(stats.pps)} pps, ${stats.mbps.toFixed(1)} Mbps)` +
          (stats.skipped.oversize + stats.skipped.unsupported > 0
            ? `, skipped ${stats.skipped.oversize} oversize, ${stats.skipped.unsupported} unsupported`
            : "") +
          (stats.failed > 0 ? `, ${stats.failed} failed` : "") +
          "\n",
      );
    } catch (error) {
      if (tty) process.stderr.write("\r\x1b[K");
      if (!ReplayError.isInstance(error)) throw error;
      if (error.stats) add(totals, error.stats);
      totals.filesFailed++;
      process.stderr.write(`${file}: ${error.reason}: ${error.message}\n`);
      // The output is gone: the other files cannot go anywhere either.
      if (!isFileFault(error.reason)) break;
    }
  }
  // A file asked for after the one that ended the run goes no further (stop() cancels it).
  next?.catch(() => {});
  await replayer.stop().catch(() => {});
  process.off("SIGINT", interrupt);
  process.off("SIGTERM", interrupt);
  totals.durationMs = performance.now() - started;
  process.stdout.write(`${formatTotals(totals)}\n`);
  const ok = totals.filesFailed === 0 && totals.failed === 0 && !controller.signal.aborted;
  return ok ? 0 : 1;
}

function add(totals: ReplayTotals, stats: ReplayError["stats"] & object): void {
  totals.packetsSent += stats.packetsSent;
  totals.bytesSent += stats.bytesSent;
  totals.skipped += stats.skipped.oversize + stats.skipped.unsupported;
  totals.truncated += stats.truncated;
  totals.failed += stats.failed;
}

function outputOf(values: ReplayFlags): ReplayOutput {
  if ((values.interface === undefined) === (values.fifo === undefined)) {
    throw new UsageError("replay needs exactly one of --interface IF or --fifo PATH");
  }
  if (values.fifo !== undefined) {
    if (values.netns !== undefined) throw new UsageError("--netns goes with --interface, not --fifo");
    if (values["qdisc-bypass"]) throw new UsageError("--qdisc-bypass goes with --interface, not --fifo");
    return { type: "fifo", path: values.fifo };
  }
  // One shot: inject from this process (no second Node process to start) unless a namespace needs a
  // child of its own to run in.
  return {
    type: "interface",
    interface: values.interface!,
    ...(values.netns ? { netns: values.netns } : { inProcess: true }),
    ...(values["qdisc-bypass"] ? { qdiscBypass: true } : {}),
  };
}

function speedOf(values: ReplayFlags): Speed {
  const given = [values.speed, values.pps, values.mbps].filter((v) => v !== undefined);
  if (given.length > 1) throw new UsageError("give one of --speed, --pps, --mbps");
  let setting: unknown = values.speed ?? "original";
  if (values.pps !== undefined) setting = { pps: Number(values.pps) };
  if (values.mbps !== undefined) setting = { mbps: Number(values.mbps) };
  try {
    return parseSpeed(setting);
  } catch (error) {
    if (ReplayError.isInstance(error)) throw new UsageError(`bad speed: ${error.message}`);
    throw error;
  }
}
