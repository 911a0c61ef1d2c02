import { EventEmitter } from "node:events";
import { existsSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  CaptureError,
  type CaptureStats,
  type HandoverCounts,
  InterfaceSource,
  type InterfaceSourceOptions,
  VxlanSource,
  type VxlanSourceOptions,
} from "@sluice/capture";
import type { ChildContext } from "@sluice/capture/child";
import {
  Backoff,
  type BackoffPolicy,
  DEFAULT_NAME_TEMPLATE,
  DEFAULT_WORKER_NAME_TEMPLATE,
} from "@sluice/spool";
import { SpoolError } from "./errors.js";
import type { FileManifest } from "./manifest.js";
import {
  type RotatingMessage,
  RotatingOutput,
  type RotatingOutputConfig,
  type RotatingProgress,
} from "./rotating-output.js";
import { type RotationPolicy, resolvePolicy } from "./rotation-policy.js";

/** A live interface captured straight into rotated files. */
export interface RotatingCaptureOptions extends Omit<InterfaceSourceOptions, "child" | "maxQueuedBytes"> {
  /** Where files appear. */
  dir: string;
  policy?: RotationPolicy;
  nameTemplate?: string;
  fsync?: boolean;
  /** Take at most this many packets, then emit "count-reached" (one worker only). */
  maxPackets?: number;
  /**
   * Capture and rotate in this process rather than in a child, where that can be done: one worker, the
   * packet-io addon loaded, and no `netns`, `user` or `group` (see InterfaceSource's `child.inProcess`);
   * otherwise a child as usual. For a process that does nothing but capture (sluice-master capture): it
   * saves a Node start-up. Default false.
   */
  inProcess?: boolean;
  /**
   * Capture children sharing the interface through one PACKET_FANOUT group in hash mode (default 1):
   * each takes the flows the kernel's symmetric hash gives it and rotates its own files, named with
   * {worker} (default template "{source}-w{worker}-{start}-{seq}"). Needs the packet-io addon.
   */
  workers?: number;
  /**
   * Capture AWS VPC Traffic Mirroring instead: a kernel VXLAN interface for this VNI is created (or
   * reused) and captured, and removed on stop if it was created; `interface` is then its name.
   */
  vxlan?: Pick<VxlanSourceOptions, "vni" | "device" | "local" | "port" | "mtu">;
  /**
   * When the interface is lost while capturing (deleted, or libpcap says it went down): after
   * "source-down" (the open files are finished and published first), reopen it with these doubling waits
   * until it is back, then "source-up" and new files. Unset: the capture ends at "source-down" and
   * stop() resolves with its counters, as tcpdump exits.
   */
  reopen?: BackoffPolicy;
}

/** What "source-up" tells: how long the interface was away and how many reopenings it took. */
export interface SourceUp {
  interface: string;
  downMs: number;
  attempts: number;
}

export interface RotatingCaptureEvents {
  /** A file is complete under its final name. */
  file: [FileManifest];
  /** The spool refused packets; capture goes on, counting them. */
  "spool-error": [SpoolError];
  /** What the capture has written so far (summed over workers), about every 100 ms while packets come. */
  progress: [RotatingProgress];
  /** The packet limit was reached; stop() to finish the last file. */
  "count-reached": [number];
  /**
   * The interface was lost (reason `no-such-interface` when deleted, `interface-down`); emitted once per
   * outage, before the files open then are finished.
   */
  "source-down": [CaptureError];
  /** Capturing again after "source-down" (only with `reopen`). */
  "source-up": [SourceUp];
  error: [CaptureError];
  warning: [string];
}

const here = dirname(fileURLToPath(import.meta.url));
const dist = basename(here) === "dist" ? here : join(here, "..", "dist");

/**
 * Capture and rotation in one child process: libpcap's batches go straight into the current file, and
 * only "this file is ready" crosses to this process. The hot path never leaves the child. With workers,
 * one such child per worker, all in one fanout group. With `inProcess`, capture and rotation may run in
 * this process instead.
 */
export class RotatingCapture extends EventEmitter<RotatingCaptureEvents> {
  private captures: (InterfaceSource | VxlanSource)[] = [];
  private readonly options: RotatingCaptureOptions;
  private readonly label: string;
  /** Final counters of the children of earlier outages, and their last progress. */
  private readonly retired: CaptureStats[] = [];
  private retiredProgress = { packets: 0, bytes: 0 };
  private down: { error: CaptureError; since: number; attempts: number } | null = null;
  private readonly backoff: Backoff;
  private retryTimer: NodeJS.Timeout | null = null;
  /** The outage's work in flight (stopping the lost children, one reopening), awaited by stop(). */
  private pending: Promise<unknown> = Promise.resolve();
  private stopping = false;
  private readonly workers: number;
  private readonly script = join(dist, "capture-child.js");
  /** Each worker's last progress report, by worker number. */
  private readonly reports = new Map<number, RotatingProgress>();

  constructor(options: RotatingCaptureOptions) {
    super();
    this.options = options;
    resolvePolicy(options.policy); // refuse a bad policy here, not in the child
    this.workers = options.workers ?? 1;
    checkWorkers(options, this.workers);
    if (!existsSync(this.script))
      throw new Error(`${this.script} is missing: build @sluice/rotator first (npm run build)`);
    this.backoff = new Backoff(() => options.reopen ?? { initialMs: 1000, maxMs: 30_000 });
    this.label = this.add(1, options.fanout?.group ?? null).name;
  }

  get name(): string {
    return this.label;
  }

  /** Why the interface is lost now (between "source-down" and "source-up"), or null. */
  get lost(): CaptureError | null {
    return this.down?.error ?? null;
  }

  /** Process id of the (first) capture child, once started (null while the interface is lost). */
  get pid(): number | null {
    return this.captures[0]?.pid ?? null;
  }

  /** Process ids of every worker's capture child, once started. */
  get pids(): (number | null)[] {
    return this.captures.map((c) => c.pid);
  }

  /** Which packet I/O the capture uses, once started: the packet-io addon or node_pcap. */
  get packetIo(): "native" | "pcap" | null {
    return this.captures[0]?.packetIo ?? null;
  }

  /** The capture runs in this process (see the `inProcess` option), once started. */
  get inProcess(): boolean {
    return this.captures[0]?.inProcess ?? false;
  }

  /**
   * Starts the capture. With workers, the first joins a fanout group whose id the kernel picks, then
   * the others join it; if one fails, those started are stopped and the error is thrown.
   */
  async start(): Promise<void> {
    await this.startSet();
  }

  private async startSet(): Promise<void> {
    const first = this.captures[0] as InterfaceSource;
    await first.start();
    if (this.workers === 1) return;
    const others: InterfaceSource[] = [];
    for (let worker = 2; worker <= this.workers; worker++) others.push(this.add(worker, first.fanoutGroup));
    const started = await Promise.allSettled(others.map((o) => o.start()));
    const failed = started.find((s) => s.status === "rejected");
    if (failed) {
      await Promise.allSettled(this.captures.map((c) => c.stop()));
      throw failed.reason;
    }
  }

  /**
   * The children's last progress reports summed (null before the first, a tick after start): packets and
   * bytes over every worker, the file of the worker that reported last, its time.
   */
  get progress(): RotatingProgress | null {
    const reports = [...this.reports.values()];
    if (reports.length === 0) {
      if (this.retiredProgress.packets === 0 && this.retiredProgress.bytes === 0) return null;
      return { ...this.retiredProgress, file: null, at: Date.now() };
    }
    const latest = reports.reduce((a, b) => (b.at >= a.at ? b : a));
    return {
      packets: this.retiredProgress.packets + reports.reduce((n, r) => n + r.packets, 0),
      bytes: this.retiredProgress.bytes + reports.reduce((n, r) => n + r.bytes, 0),
      file: latest.file,
      at: latest.at,
    };
  }

  /** Counters summed over the workers (and over the children of earlier outages). */
  async stats(): Promise<CaptureStats> {
    return sum([...this.retired, ...(await Promise.all(this.captures.map((c) => c.stats())))]);
  }

  /**
   * With the `successor` option, once started: a time (µs since the epoch) by which every worker's
   * capture was open with its filter set, the earliest cut startFrom() and a predecessor's stop() take.
   */
  get openedAtUs(): number | null {
    const opened = this.captures.map((c) => c.openedAtUs);
    return opened.some((us) => us === null) ? null : Math.max(...(opened as number[]));
  }

  /** Frames left to a predecessor or successor at a cut (summed over workers): as of stats(), final once stopped. */
  get handover(): HandoverCounts {
    const total = { beforeCut: 0, afterCut: 0 };
    for (const c of this.captures) {
      total.beforeCut += c.handover.beforeCut;
      total.afterCut += c.handover.afterCut;
    }
    return total;
  }

  /** A successor's workers start reading: the frames stamped at or after `atUs` are theirs. */
  startFrom(atUs: number): void {
    for (const c of this.captures) c.startFrom(atUs);
  }

  /**
   * A predecessor's side of a gapless restart: every worker keeps only the frames stamped before the cut
   * from now on. Resolves with the cut the successor starts from: `atUs`, or later if a worker had
   * passed on later frames already (one that stalled: with several workers, those it passed on between
   * the two are then in both captures' files; with one, none is).
   */
  async cut(atUs: number): Promise<number> {
    return Math.min(...(await Promise.all(this.captures.map((c) => c.cut(atUs)))));
  }

  /**
   * Finishes the open files (flushed, fsynced, renamed) and resolves with the final counters. On a
   * gapless restart, `successor` is the RotatingCapture taking over: it inherits a VXLAN interface this
   * one created.
   */
  async stop(options: { successor?: RotatingCapture } = {}): Promise<CaptureStats> {
    this.stopping = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    await this.pending;
    const heir = options.successor?.captures[0];
    const last = await Promise.all(
      this.captures.map((c) =>
        c instanceof VxlanSource && heir instanceof VxlanSource ? c.stop({ successor: heir }) : c.stop(),
      ),
    );
    return sum([...this.retired, ...last]);
  }

  // One child reported the interface lost: the others lose it too. Finish them all (their files are
  // published as they exit), then reopen with backoff if asked.
  private onLost(error: CaptureError): void {
    if (this.down !== null || this.stopping) return;
    this.down = { error, since: Date.now(), attempts: 0 };
    // Set before the event: a listener that stops (sluice-master capture) waits for the files.
    this.pending = this.retire().then(() => this.scheduleReopen());
    this.emit("source-down", error);
  }

  private async retire(): Promise<void> {
    const lost = this.captures;
    this.captures = [];
    this.retired.push(...(await Promise.all(lost.map((c) => c.stop()))));
    const progress = this.progress;
    if (progress) this.retiredProgress = { packets: progress.packets, bytes: progress.bytes };
    this.reports.clear();
  }

  private scheduleReopen(): void {
    if (this.stopping || this.options.reopen === undefined) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.pending = this.reopen();
    }, this.backoff.next());
  }

  private async reopen(): Promise<void> {
    const down = this.down!;
    down.attempts++;
    this.add(1, this.options.fanout?.group ?? null);
    try {
      await this.startSet();
    } catch (error) {
      await Promise.allSettled(this.captures.map((c) => c.stop()));
      this.captures = [];
      const reason = CaptureError.isInstance(error) ? error.reason : null;
      if (reason === "no-such-interface" || reason === "interface-down" || reason === "child-exited") {
        this.scheduleReopen();
      } else {
        this.emit("error", error as CaptureError); // it will not come back by waiting (a filter, a right)
      }
      return;
    }
    if (this.captures.some((c) => c.lost !== null)) {
      // Gone again while it was starting (the "lost" was ignored as part of this outage): start over.
      await this.retire();
      this.scheduleReopen();
      return;
    }
    this.down = null;
    this.backoff.reset();
    if (this.stopping) return;
    this.emit("source-up", {
      interface: this.options.interface,
      downMs: Date.now() - down.since,
      attempts: down.attempts,
    });
  }

  // The capture child of one worker (1..N); workers 2..N join the first one's fanout group.
  private add(worker: number, group: number | null): InterfaceSource {
    const capture = this.makeCapture(worker, group);
    capture.on("output", (payload) => this.onOutput(worker, payload as RotatingMessage));
    capture.on("error", (error) => this.emit("error", error));
    capture.on("lost", (error) => this.onLost(error));
    capture.on("warning", (warning) => this.emit("warning", warning));
    this.captures.push(capture);
    return capture as InterfaceSource;
  }

  private makeCapture(worker: number, group: number | null): InterfaceSource | VxlanSource {
    const { options, workers, script } = this;
    const template =
      options.nameTemplate ?? (workers > 1 ? DEFAULT_WORKER_NAME_TEMPLATE : DEFAULT_NAME_TEMPLATE);
    const output: RotatingOutputConfig = {
      kind: "rotate",
      dir: resolve(options.dir),
      policy: options.policy ?? {},
      nameTemplate: template,
      ...(options.fsync !== undefined && { fsync: options.fsync }),
      ...(options.maxPackets !== undefined && { maxPackets: options.maxPackets }),
      ...(workers > 1 && { worker }),
    };
    const child = {
      script,
      output: output as unknown as RotatingOutputConfig & Record<string, unknown>,
      ...(options.inProcess &&
        workers === 1 && { inProcess: (context: ChildContext) => new RotatingOutput(context) }),
    };
    const { vxlan, workers: _, inProcess: __, ...rest } = options;
    if (vxlan) return new VxlanSource({ ...rest, ...vxlan, interfaceName: options.interface, child });
    return new InterfaceSource({
      ...rest,
      child,
      ...(workers > 1 && { fanout: { ...rest.fanout, group, mode: rest.fanout?.mode ?? "hash" } }),
    });
  }

  private onOutput(worker: number, message: RotatingMessage): void {
    if (message.type === "file") this.emit("file", message.manifest);
    else if (message.type === "progress") {
      this.reports.set(worker, message.progress);
      this.emit("progress", this.progress!);
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

function checkWorkers(options: RotatingCaptureOptions, workers: number): void {
  const refuse = (message: string): never => {
    throw new CaptureError("bad-option", message, { option: "workers" });
  };
  if (!Number.isInteger(workers) || workers < 1 || workers > 64)
    refuse(`workers must be 1..64, not ${workers}`);
  if (workers === 1) return;
  if (options.vxlan) refuse("workers are for interface sources; a VXLAN source has one capture");
  if (options.maxPackets !== undefined) refuse("a packet count (-c) needs one worker");
  if (options.nameTemplate !== undefined && !options.nameTemplate.includes("{worker}")) {
    refuse(`with ${workers} workers the name template needs {worker}: "${options.nameTemplate}"`);
  }
  if (options.packetIo === "pcap") refuse("workers need the packet-io addon, and packetIo is pcap");
}

function sum(all: CaptureStats[]): CaptureStats {
  const total = {
    received: 0,
    droppedByKernel: 0,
    droppedByInterface: 0,
    droppedByConsumer: 0,
    captured: 0,
    written: 0,
    droppedByConsumerReasons: {} as Record<string, number>,
  };
  for (const s of all) {
    total.received += s.received;
    total.droppedByKernel += s.droppedByKernel;
    total.droppedByInterface += s.droppedByInterface;
    total.droppedByConsumer += s.droppedByConsumer;
    total.captured += s.captured;
    total.written += s.written;
    for (const [reason, count] of Object.entries(s.droppedByConsumerReasons ?? {})) {
      total.droppedByConsumerReasons[reason] = (total.droppedByConsumerReasons[reason] ?? 0) + count;
    }
  }
  return total;
}
