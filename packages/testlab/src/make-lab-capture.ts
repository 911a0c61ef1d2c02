import type { CaptureStats } from "./capture.js";
import { withLab } from "./lab.js";
import type { TrafficMix } from "./traffic.js";

/**
 * What makeLabCapture makes.
 * Size first; the rest defaults to whole packets and microsecond timestamps.
 */
export interface LabCaptureOptions {
  /** Stop once the capture file holds at least this many bytes. */
  bytes: number;
  /** Kinds of traffic (default all: web, bulk, UDP, ping, IPv4 and IPv6). */
  mix?: TrafficMix;
  snaplen?: number;
  precision?: "micro" | "nano";
}

/**
 * The capture makeLabCapture wrote.
 * tcpdump's counters come along so a caller can see nothing was dropped.
 */
export interface LabCaptureResult extends CaptureStats {
  path: string;
  /** Size of the file on disk. */
  bytes: number;
  seconds: number;
}

/**
 * Makes a realistic capture of at least `bytes` bytes at `path` in one call: a lab, tcpdump on b, mixed
 * traffic until the file is big enough, then everything removed. The input for tests and benchmarks.
 */
export async function makeLabCapture(path: string, options: LabCaptureOptions): Promise<LabCaptureResult> {
  const started = performance.now();
  return withLab(async (lab) => {
    const capture = await lab.capture(path, {
      ...(options.snaplen !== undefined && { snaplen: options.snaplen }),
      ...(options.precision !== undefined && { precision: options.precision }),
    });
    try {
      await lab.mixed({ targetBytes: options.bytes, ...(options.mix !== undefined && { mix: options.mix }) });
    } finally {
      // Also on failure: tcpdump must let go of the file before the lab goes.
      await capture.stop().catch(() => {});
    }
    const stats = await capture.stop();
    return {
      path: capture.path,
      ...stats,
      bytes: capture.size(),
      seconds: (performance.now() - started) / 1000,
    };
  });
}
