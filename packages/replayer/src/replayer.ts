import type { Logger } from "@sluice/spool";
import type { RetryPolicy } from "./child-protocol.js";
import { ReplayError } from "./errors.js";
import { InjectOutput } from "./inject-output.js";
import { DEFAULT_MACS, parseMac } from "./link-convert.js";
import type { Output } from "./output.js";
import { feedContext } from "./record-feed.js";
import { parseSpeed, type Speed } from "./speed.js";
import type { FileReplayStats, ReplayerStats, ReplayProgress } from "./stats.js";

/** Where replayed records go: an interface (optionally inside a network namespace) or a FIFO. */
export type ReplayOutput =
  /**
   * `inProcess`: inject from this process instead of a child of its own. A one-shot replay starts
   * about 0.1 s sooner, but the interface stays open until the process exits and a paced replay holds
   * the event loop between its yields (every millisecond while waiting, at least every 50 ms in dense
   * traffic). Not with `netns`.
   */
  | {
      type: "interface";
      interface: string;
      netns?: string;
      inProcess?: boolean;
      /**
       * What sends the frames: "native" the packet-io addon (an AF_PACKET socket, a whole batch per
       * system call), "pcap" node_pcap (one frame per call), "auto" the addon when it loads and node_pcap
       * otherwise, with one log line (event `packet-io-fallback`) saying why. Default: the environment
       * variable SLUICE_PACKET_IO, else "auto".
       */
      packetIo?: "auto" | "native" | "pcap";
      /**
       * PACKET_QDISC_BYPASS (addon only): frames skip the interface's queueing discipline. Faster on a
       * NIC with a qdisc, but packet sockets on the sending interface itself (a tcpdump, Suricata or Zeek
       * listening there) no longer see the frames: only the receiving side does (a veth's peer, the wire).
       * Default false.
       */
      qdiscBypass?: boolean;
    }
  /** `precision` of the stream's timestamps: "micro" (default, what every reader takes) or "nano". */
  | { type: "fifo"; path: string; precision?: "micro" | "nano" }
  /**
   * An output of the caller's own (an embedder's sink; a test's fake wire): `open` is called by
   * `start()` and again after the output stopped being `alive`. `name` is what logs call it.
   */
  | { type: "custom"; name: string; open(): Promise<Output> };

/** How a Replayer sends. */
export interface ReplayerOptions {
  output: ReplayOutput;
  /** Default original 1x. */
  speed?: Speed;
  /** Original mode: cap on any gap, inside and between files (default 5000). */
  maxGapMs?: number;
  /** Frames over MTU + link header: count and skip (default) or truncate. */
  oversize?: "skip" | "truncate";
  /** Used when SLL/SLL2/raw-IP records become Ethernet frames (default 02:00:00:00:00:01 → …:02). */
  macs?: { src: string; dst: string };
  /**
   * How a paced interface replay waits for send times. "sleep" (default) sleeps until just before each
   * send time and spins the last half millisecond: little CPU, but a CPU that went idle makes the next
   * send cold. "spin" busy-waits the whole time, as tcpreplay does: one core at 100% for the replay,
   * and a tail (p99 gap error) about half of sleep's. Topspeed and FIFO output never wait.
   */
  timer?: "sleep" | "spin";
  /** A failing inject is retried this often with doubling delays before the file fails (default 8, 20 ms up to 1 s). */
  retry?: Partial<RetryPolicy>;
  /** Where the one `packet-io-fallback` line goes (default: a line on stderr). */
  logger?: Pick<Logger, "warn">;
}

/** Without a logger, the fallback line goes to stderr. */
const stderrLogger: Pick<Logger, "warn"> = {
  warn: (event, fields) => {
    process.stderr.write(`@sluice/replayer: ${event}: ${String(fields?.["message"])}\n`);
  },
};

/** The fallback is said once per process, however many Replayers (and restarts) follow. */
let fallbackLogged = false;

/** Options of one replayFile call. */
export interface ReplayFileOptions {
  /** Aborting stops this file at a record boundary (rejects with "stopped"); the Replayer goes on. */
  signal?: AbortSignal;
  onProgress?: (progress: ReplayProgress) => void;
}

const DEFAULT_RETRY: RetryPolicy = { attempts: 8, initialDelayMs: 20, maxDelayMs: 1000 };

function badOption(option: string, message: string, value: unknown): ReplayError {
  return new ReplayError("bad-option", `${option}: ${message}`, { option, value });
}

function checkOptions(options: ReplayerOptions): void {
  const output = options.output as ReplayOutput | undefined;
  if (output?.type === "interface") {
    if (typeof output.interface !== "string" || !/^[^\s/]{1,15}$/.test(output.interface)) {
      throw badOption(
        "output.interface",
        "must be an interface name (1-15 characters, no / or spaces)",
        output.interface,
      );
    }
    if (
      output.packetIo !== undefined &&
      output.packetIo !== "auto" &&
      output.packetIo !== "native" &&
      output.packetIo !== "pcap"
    ) {
      throw badOption("output.packetIo", 'must be "auto", "native" or "pcap"', output.packetIo);
    }
    if (output.qdiscBypass !== undefined && typeof output.qdiscBypass !== "boolean") {
      throw badOption("output.qdiscBypass", "must be true or false", output.qdiscBypass);
    }
    if (output.qdiscBypass && output.packetIo === "pcap") {
      throw badOption("output.qdiscBypass", 'needs the packet-io addon, not packetIo "pcap"', true);
    }
    if (output.inProcess && output.netns !== undefined) {
      throw badOption("output.inProcess", "cannot inject in this process inside another network namespace", {
        netns: output.netns,
      });
    }
  } else if (output?.type === "fifo") {
    if (typeof output.path !== "string" || output.path === "") {
      throw badOption("output.path", "must be the FIFO's path", output.path);
    }
    if (output.precision !== undefined && output.precision !== "micro" && output.precision !== "nano") {
      throw badOption("output.precision", 'must be "micro" or "nano"', output.precision);
    }
  } else if (output?.type === "custom") {
    if (typeof output.open !== "function") throw badOption("output.open", "must be a function", output.open);
  } else {
    throw badOption("output", 'must be { type: "interface", interface } or { type: "fifo", path }', output);
  }
  const { maxGapMs, oversize, timer } = options;
  if (timer !== undefined && timer !== "sleep" && timer !== "spin") {
    throw badOption("timer", 'must be "sleep" or "spin"', timer);
  }
  if (
    maxGapMs !== undefined &&
    !(typeof maxGapMs === "number" && maxGapMs >= 0 && Number.isFinite(maxGapMs))
  ) {
    throw badOption("maxGapMs", "must be a finite number >= 0", maxGapMs);
  }
  if (oversize !== undefined && oversize !== "skip" && oversize !== "truncate") {
    throw badOption("oversize", 'must be "skip" or "truncate"', oversize);
  }
  for (const [key, value] of Object.entries(options.retry ?? {})) {
    if (!(typeof value === "number" && Number.isInteger(value) && value >= 0)) {
      throw badOption(`retry.${key}`, "must be an integer >= 0", value);
    }
  }
}

interface ActiveFile {
  cancel(by: "stop" | "signal"): void;
  finished: Promise<unknown>;
  /** It failed because its output died (the inject child exited) before the file ended. */
  lost: boolean;
}

/**
 * Replays capture files into an interface or a FIFO, one continuous timeline across files. Files are
 * replayed one after another in call order; the interface is driven by a child process of its own (or,
 * with `inProcess`, from this process).
 */
export class Replayer {
  private readonly speed: Speed;
  private readonly maxGapMs: number;
  private readonly oversize: "skip" | "truncate";
  private readonly macs: { src: string; dst: string };
  private readonly retry: RetryPolicy;
  private output: Output | null = null;
  private starting: Promise<void> | null = null;
  private seq = 0;
  /**
   * Files handed to the output and not finished: one, or at topspeed into an interface every file asked
   * for before the ones ahead of it finished (see replayFile).
   */
  private readonly active = new Set<ActiveFile>();
  private tail: Promise<unknown> = Promise.resolve();
  /** When the last file's outcome came (a file handed over early counts its time from there). */
  private lastEnd = 0;
  private stopping = false;
  private readonly totals: ReplayerStats = {
    files: 0,
    packetsSent: 0,
    bytesSent: 0,
    skipped: { oversize: 0, unsupported: 0 },
    truncated: 0,
    failed: 0,
  };

  constructor(readonly options: ReplayerOptions) {
    checkOptions(options);
    this.speed =
      options.speed === undefined ? { kind: "original", multiplier: 1 } : parseSpeed(options.speed);
    this.maxGapMs = options.maxGapMs ?? 5000;
    this.oversize = options.oversize ?? "skip";
    this.macs = options.macs ?? DEFAULT_MACS;
    parseMac(this.macs.src, "macs.src");
    parseMac(this.macs.dst, "macs.dst");
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
  }

  /** Opens the interface (in its own child process, or here) or creates the FIFO; rejects with ReplayError. */
  start(): Promise<void> {
    if (this.stopping)
      return Promise.reject(new ReplayError("stopped", "this Replayer was stopped; make a new one"));
    if (this.output?.alive) return Promise.resolve();
    this.starting ??= this.open().finally(() => {
      this.starting = null;
    });
    return this.starting;
  }

  private async open(): Promise<void> {
    const { output } = this.options;
    let opened: Output;
    if (output.type === "custom") {
      opened = await output.open();
    } else if (output.type === "fifo") {
      // Loaded for a FIFO only (with node:child_process and node:stream).
      const { ensureFifo, FifoOutput } = await import("./fifo-output.js");
      await ensureFifo(output.path);
      const { speed, maxGapMs, macs, oversize } = this;
      const context = feedContext({ speed, maxGapMs, macs, oversize });
      opened = new FifoOutput(output.path, output.precision ?? "micro", context);
    } else {
      opened = await InjectOutput.open({
        interface: output.interface,
        ...(output.netns === undefined ? {} : { netns: output.netns }),
        ...(output.inProcess ? { inProcess: true } : {}),
        ...(output.packetIo === undefined ? {} : { packetIo: output.packetIo }),
        ...(output.qdiscBypass ? { qdiscBypass: true } : {}),
        speed: this.speed,
        maxGapMs: this.maxGapMs,
        oversize: this.oversize,
        timer: this.options.timer ?? "sleep",
        macs: this.macs,
        retry: this.retry,
      });
    }
    if (opened instanceof InjectOutput && opened.fallback !== null && !fallbackLogged) {
      fallbackLogged = true;
      const bypass = output.type === "interface" && output.qdiscBypass ? " (without qdiscBypass)" : "";
      (this.options.logger ?? stderrLogger).warn("packet-io-fallback", {
        interface: output.type === "interface" ? output.interface : null,
        reason: opened.fallback,
        message: `injecting with node_pcap, one frame per call${bypass}: ${opened.fallback}`,
      });
    }
    if (this.stopping) {
      // stop() came while the output was opening: close it rather than leave a child behind.
      await opened.close();
      throw new ReplayError("stopped", "this Replayer was stopped while it started");
    }
    this.output = opened;
  }

  /**
   * Replays one file; consecutive calls form one timeline (see the README for what that keeps). Files go
   * in call order. At topspeed into an interface, a file called for before the one ahead of it finished
   * is handed over as soon as that one was: it is read while the last records of the other are sent,
   * with no gap between the two on the wire.
   */
  replayFile(path: string, options: ReplayFileOptions = {}): Promise<FileReplayStats> {
    let handedOver!: () => void;
    const early = new Promise<void>((resolve) => {
      handedOver = resolve;
    });
    const run = this.tail.then(() => this.replayOne(path, options, handedOver));
    const settled = run.catch(() => {});
    this.tail = Promise.race([early, settled]);
    return run;
  }

  /** Cumulative stats since start; `files` counts files replayed to their end. */
  stats(): ReplayerStats {
    return { ...this.totals, skipped: { ...this.totals.skipped } };
  }

  /** Stops at a record boundary; resolves when the output is closed. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.starting?.catch(() => {});
    const active = [...this.active];
    for (const file of active) file.cancel("stop");
    await Promise.all(active.map((file) => file.finished.catch(() => {})));
    await this.output?.close();
  }

  /** What injects while the output is open: the packet-io addon ("native") or node_pcap ("pcap"); null otherwise. */
  get packetIo(): "native" | "pcap" | null {
    return this.output instanceof InjectOutput && this.output.alive ? this.output.packetIo : null;
  }

  /** Process id of the inject child while it runs (interface output), for monitoring; null otherwise (also in process). */
  get childPid(): number | null {
    return this.output instanceof InjectOutput ? this.output.pid : null;
  }

  /** `handedOver` lets the next file go to the output (see replayFile). */
  private async replayOne(
    path: string,
    options: ReplayFileOptions,
    handedOver: () => void,
  ): Promise<FileReplayStats> {
    const started = performance.now();
    const stats: FileReplayStats = {
      path,
      packetsSent: 0,
      bytesSent: 0,
      skipped: { oversize: 0, unsupported: 0 },
      truncated: 0,
      failed: 0,
      durationMs: 0,
      sendingMs: 0,
      pps: 0,
      mbps: 0,
      timingErrorUs: null,
    };
    const stopped = (by: string): ReplayError =>
      new ReplayError("stopped", `replaying ${path} was stopped (${by}) at a record boundary`, { path, by });
    if (this.stopping) throw stopped("stop").withStats(stats);
    if (options.signal?.aborted) throw stopped("signal").withStats(stats);
    await this.start();
    const output = this.output!;
    const seq = ++this.seq;
    let cancelledBy: "stop" | "signal" | null = null;
    const cancel = (by: "stop" | "signal"): void => {
      if (cancelledBy) return;
      cancelledBy = by;
      output.cancel(seq);
    };
    const onAbort = (): void => cancel("signal");
    options.signal?.addEventListener("abort", onAbort, { once: true });
    const replay = output.replay(seq, path, (packets, bytes) => {
      stats.packetsSent = packets;
      stats.bytesSent = bytes;
      options.onProgress?.({ path, packetsSent: packets, bytesSent: bytes, packetsTotal: null });
    });
    // The file still ahead of this one at the output, when it was handed over early.
    const ahead = [...this.active].at(-1);
    const active: ActiveFile = { cancel, finished: replay, lost: false };
    this.active.add(active);
    // Paced files wait for the one ahead: a stopped or failed file restarts the timeline, which the
    // next one's send times must not have been read against yet.
    if (this.speed.kind === "topspeed" && output instanceof InjectOutput) handedOver();
    let outcome: Awaited<typeof replay>;
    try {
      outcome = await replay;
    } finally {
      this.active.delete(active);
      options.signal?.removeEventListener("abort", onAbort);
    }
    active.lost = outcome.error !== null && !output.alive;
    // Handed over early to an output that died before the file ahead ended: this file's turn never
    // came, and it goes to a new output, as it would have had it waited for the one ahead.
    if (active.lost && ahead?.lost && outcome.packets === 0 && !cancelledBy) {
      return this.replayOne(path, options, handedOver);
    }
    // Handed over early, the file's time counts from the end of the one ahead of it.
    const from = Math.max(started, this.lastEnd);
    this.lastEnd = performance.now();
    stats.packetsSent = outcome.packets;
    stats.bytesSent = outcome.bytes;
    stats.failed = outcome.failed;
    stats.skipped = { ...outcome.skipped };
    stats.truncated = outcome.truncated;
    stats.durationMs = Math.round((this.lastEnd - from) * 1000) / 1000;
    stats.sendingMs = Math.round(outcome.sendingMs * 1000) / 1000;
    const seconds = stats.durationMs / 1000;
    stats.pps = seconds > 0 ? Math.round(outcome.packets / seconds) : 0;
    stats.mbps = seconds > 0 ? Math.round(((outcome.bytes * 8) / 1e6 / seconds) * 1000) / 1000 : 0;
    stats.timingErrorUs = this.speed.kind === "topspeed" ? null : outcome.timing;
    this.addTotals(stats);
    const error = outcome.error ?? (cancelledBy || outcome.cancelled ? stopped(cancelledBy ?? "stop") : null);
    if (error) throw error.withStats(stats);
    this.totals.files++;
    return stats;
  }

  private addTotals(stats: FileReplayStats): void {
    const t = this.totals;
    t.packetsSent += stats.packetsSent;
    t.bytesSent += stats.bytesSent;
    t.skipped.oversize += stats.skipped.oversize;
    t.skipped.unsupported += stats.skipped.unsupported;
    t.truncated += stats.truncated;
    t.failed += stats.failed;
  }
}
