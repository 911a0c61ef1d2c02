import { EventEmitter } from "node:events";
import { existsSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type CaptureError,
  type CaptureStats,
  InterfaceSource,
  type InterfaceSourceOptions,
  VxlanSource,
  type VxlanSourceOptions,
} from "@sluice/capture";
import { SpoolError } from "./errors.js";
import type { FileManifest } from "./manifest.js";
import type { RotatingMessage, RotatingOutputConfig, RotatingProgress } from "./rotating-output.js";
import { type RotationPolicy, resolvePolicy } from "./rotation-policy.js";

/** A live interface captured straight into rotated files. */
export interface RotatingCaptureOptions extends Omit<InterfaceSourceOptions, "child" | "maxQueuedBytes"> {
  /** Where files appear. */
  dir: string;
  policy?: RotationPolicy;
  nameTemplate?: string;
  fsync?: boolean;
  /** Take at most this many packets, then emit "count-reached". */
  maxPackets?: number;
  /**
   * Capture AWS VPC Traffic Mirroring instead: a kernel VXLAN interface for this VNI is created (or
   * reused) and captured, and removed on stop if it was created; `interface` is then its name.
   */
  vxlan?: Pick<VxlanSourceOptions, "vni" | "device" | "local" | "port" | "mtu">;
}

export interface RotatingCaptureEvents {
  /** A file is complete under its final name. */
  file: [FileManifest];
  /** The spool refused packets; capture goes on, counting them. */
  "spool-error": [SpoolError];
  /** What the child has written so far (every tick while packets come in, once a second when idle). */
  progress: [RotatingProgress];
  /** The packet limit was reached; stop() to finish the last file. */
  "count-reached": [number];
  error: [CaptureError];
  warning: [string];
}

const here = dirname(fileURLToPath(import.meta.url));
const dist = basename(here) === "dist" ? here : join(here, "..", "dist");

/**
 * Capture and rotation in one child process: libpcap's callback writes each packet into the current
 * file, and only "this file is ready" crosses to this process. The hot path never leaves the child.
 */
export class RotatingCapture extends EventEmitter<RotatingCaptureEvents> {
  private readonly capture: InterfaceSource | VxlanSource;
  private lastProgress: RotatingProgress | null = null;

  constructor(options: RotatingCaptureOptions) {
    super();
    resolvePolicy(options.policy); // refuse a bad policy here, not in the child
    const script = join(dist, "capture-child.js");
    const output: RotatingOutputConfig = {
      kind: "rotate",
      dir: resolve(options.dir),
      policy: options.policy ?? {},
      ...(options.nameTemplate !== undefined && { nameTemplate: options.nameTemplate }),
      ...(options.fsync !== undefined && { fsync: options.fsync }),
      ...(options.maxPackets !== undefined && { maxPackets: options.maxPackets }),
    };
    const child = { script, output: output as unknown as RotatingOutputConfig & Record<string, unknown> };
    const { vxlan, ...rest } = options;
    this.capture = vxlan
      ? new VxlanSource({ ...rest, ...vxlan, interfaceName: options.interface, child })
      : new InterfaceSource({ ...rest, child });
    this.capture.on("output", (payload) => this.onOutput(payload as RotatingMessage));
    this.capture.on("error", (error) => this.emit("error", error));
    this.capture.on("warning", (warning) => this.emit("warning", warning));
    if (!existsSync(script))
      throw new Error(`${script} is missing: build @sluice/rotator first (npm run build)`);
  }

  get name(): string {
    return this.capture.name;
  }

  /** Process id of the capture child, once started. */
  get pid(): number | null {
    return this.capture.pid;
  }

  start(): Promise<void> {
    return this.capture.start();
  }

  /** The child's last progress report (null before the first, a tick after start). */
  get progress(): RotatingProgress | null {
    return this.lastProgress;
  }

  stats(): Promise<CaptureStats> {
    return this.capture.stats();
  }

  /** Finishes the open file (flushed, fsynced, renamed) and resolves with the final counters. */
  stop(): Promise<CaptureStats> {
    return this.capture.stop();
  }

  private onOutput(message: RotatingMessage): void {
    if (message.type === "file") this.emit("file", message.manifest);
    else if (message.type === "progress") {
      this.lastProgress = message.progress;
      this.emit("progress", message.progress);
    } else if (message.type === "count-reached") this.emit("count-reached", message.packets);
    else if (message.type === "spool-error") {
      const { reason, path, errno, message: text } = message.error;
      this.emit(
        "spool-error",
        new SpoolError(reason as SpoolError["reason"], text, { path, ...(errno && { errno }) }),
      );
    }
  }
}
