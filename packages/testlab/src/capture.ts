import { existsSync, statSync } from "node:fs";
import { LabError } from "./errors.js";
import type { LabProcess } from "./processes.js";

/**
 * Where and how tcpdump captures.
 * Mirrors tcpdump's own flags so a test reads like the command it runs.
 */
export interface CaptureOptions {
  /** Which end of the veth pair tcpdump listens on (default "b"). */
  on?: "a" | "b";
  /** BPF filter expression, e.g. "udp or icmp". */
  filter?: string;
  /** Bytes kept of each packet, tcpdump -s (default 262144: whole packets). */
  snaplen?: number;
  /** Kernel capture buffer in KiB, tcpdump -B (default 65536). */
  bufferKiB?: number;
  /** Timestamp precision written to the file (default "micro"). */
  precision?: "micro" | "nano";
  /**
   * tcpdump --immediate-mode: each packet reaches the file as it arrives instead of in blocks the kernel
   * hands over once full or once a second. For tests that read the file while tcpdump runs; stop() gets
   * every packet into the file either way.
   */
  immediate?: boolean;
}

/**
 * tcpdump's own counters at exit.
 * The oracle for "did the capture keep up": dropped packets make a benchmark's input smaller than asked.
 */
export interface CaptureStats {
  /** Packets written to the file ("packets captured"). */
  packets: number;
  /** Packets the filter accepted; more than `packets` if some were still in the ring at exit. */
  receivedByFilter: number;
  /** Packets the kernel dropped because tcpdump did not read fast enough. */
  droppedByKernel: number;
}

/**
 * A running tcpdump.
 * stop() ends it gracefully, so the file is complete and the counters are known.
 */
export interface CaptureHandle {
  /** Absolute path of the capture file. */
  readonly path: string;
  /** The tcpdump process itself. */
  readonly process: LabProcess;
  /** Bytes in the file so far (it lags the wire by what sits in tcpdump's buffers). */
  size(): number;
  /**
   * Waits until tcpdump has written every packet its filter accepted (at most 5 s), then sends SIGINT and
   * returns its final counters. Idempotent.
   */
  stop(): Promise<CaptureStats>;
}

const MAX_SNAPLEN = 262144;

/**
 * The tcpdump command line for a capture on `iface` into `path`.
 * Kept separate from starting it so the flags are visible and testable.
 */
export function tcpdumpArgs(iface: string, path: string, options: CaptureOptions): string[] {
  const snaplen = options.snaplen ?? MAX_SNAPLEN;
  const bufferKiB = options.bufferKiB ?? 65536;
  if (!Number.isInteger(snaplen) || snaplen < 1 || snaplen > MAX_SNAPLEN) {
    throw new LabError("bad-option", `snaplen must be an integer from 1 to ${MAX_SNAPLEN}, not ${snaplen}`);
  }
  if (!Number.isInteger(bufferKiB) || bufferKiB < 1) {
    throw new LabError("bad-option", `bufferKiB must be a positive integer, not ${bufferKiB}`);
  }
  // -Z root: tcpdump would otherwise switch to user "tcpdump", who may not be allowed to write `path`.
  const args = ["-i", iface, "-w", path, "-n", "-Z", "root", "-s", String(snaplen), "-B", String(bufferKiB)];
  if (options.precision === "nano") args.push("--time-stamp-precision", "nano");
  if (options.immediate) args.push("--immediate-mode");
  if (options.filter) args.push(options.filter);
  return args;
}

/**
 * Reads tcpdump's last counters ("N packets captured", "N packets received by filter", "N packets dropped by
 * kernel"), which it prints when it exits; null when they are missing, i.e. tcpdump did not exit normally.
 */
export function parseTcpdumpStats(stderr: string): CaptureStats | null {
  // The last occurrence: SIGUSR1 reports earlier in stderr carry the same phrases.
  const count = (label: string): number | null => {
    const matches = [...stderr.matchAll(new RegExp(`(\\d+) packets? ${label}`, "g"))];
    const last = matches.at(-1);
    return last ? Number(last[1]) : null;
  };
  const packets = count("captured");
  const receivedByFilter = count("received by filter");
  const droppedByKernel = count("dropped by kernel");
  if (packets === null || receivedByFilter === null || droppedByKernel === null) return null;
  return { packets, receivedByFilter, droppedByKernel };
}

// tcpdump prints its counters on SIGUSR1 (Linux has no SIGINFO): "N packets captured, N packets received
// by filter, N packets dropped by kernel".
const COUNTERS =
  /(\d+) packets? captured, (\d+) packets? received by filter, (\d+) packets? dropped by kernel/g;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function liveCounters(tcpdump: LabProcess): Promise<CaptureStats | null> {
  const seen = tcpdump.stderr().match(COUNTERS)?.length ?? 0;
  if (!tcpdump.child.kill("SIGUSR1")) return null;
  for (let waited = 0; waited < 1000; waited += 10) {
    const lines = tcpdump.stderr().match(COUNTERS) ?? [];
    if (lines.length > seen) {
      const [, packets, received, dropped] = /(\d+)\D+(\d+)\D+(\d+)/.exec(lines.at(-1) ?? "") ?? [];
      return {
        packets: Number(packets),
        receivedByFilter: Number(received),
        droppedByKernel: Number(dropped),
      };
    }
    await sleep(10);
  }
  return null;
}

// SIGINT makes tcpdump exit without reading what is still in the kernel ring: packets in a block the
// kernel has not retired yet (it does so each second) and, on a busy machine, blocks tcpdump has not caught
// up with. Wait until it has processed every packet the filter accepted, for at most `maxMs`.
async function drain(tcpdump: LabProcess, maxMs: number): Promise<void> {
  const until = Date.now() + maxMs;
  while (Date.now() < until) {
    const counters = await liveCounters(tcpdump);
    if (counters === null || counters.packets >= counters.receivedByFilter) return;
    await sleep(100);
  }
}

/**
 * Wraps a tcpdump that is already listening.
 * `onStop` lets the lab forget the capture once it has ended.
 */
export function captureHandle(path: string, tcpdump: LabProcess, onStop: () => void): CaptureHandle {
  let stopping: Promise<CaptureStats> | null = null;
  const stop = async (): Promise<CaptureStats> => {
    // Packets still in flight reach the ring first.
    await sleep(100);
    await drain(tcpdump, 5000);
    const exit = await tcpdump.stop("SIGINT");
    onStop();
    const stats = parseTcpdumpStats(tcpdump.stderr());
    if (stats === null || exit !== 0) {
      throw new LabError("capture-failed", `tcpdump exited ${exit}: ${tcpdump.stderr().trim()}`);
    }
    return stats;
  };
  return {
    path,
    process: tcpdump,
    size: () => (existsSync(path) ? statSync(path).size : 0),
    stop: () => {
      stopping ??= stop();
      return stopping;
    },
  };
}
