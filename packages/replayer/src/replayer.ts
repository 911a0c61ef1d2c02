import { performance } from "node:perf_hooks";
import {
  CaptureDecoder,
  type DecoderSink,
  type InterfaceInfo,
  PcapFormatError,
  readChunks,
} from "@sluice/pcap-format";
import { FLAG_FIRST_OF_FILE, FLAG_RESET, type RetryPolicy } from "./child-protocol.js";
import { ReplayError } from "./errors.js";
import { ensureFifo, FifoSink } from "./fifo-sink.js";
import { InjectSink } from "./inject-sink.js";
import { DEFAULT_MACS, type FrameConverter, LinkConverter, parseMac } from "./link-convert.js";
import type { Sink } from "./sink.js";
import { formatSpeed, parseSpeed, type Speed } from "./speed.js";
import type { FileReplayStats, ReplayerStats, ReplayProgress } from "./stats.js";
import { Timeline } from "./timeline.js";

/** Where replayed records go: an interface (optionally inside a network namespace) or a FIFO. */
export type ReplayOutput =
  | { type: "interface"; interface: string; netns?: string }
  /** `precision` of the stream's timestamps: "micro" (default, what every reader takes) or "nano". */
  | { type: "fifo"; path: string; precision?: "micro" | "nano" };

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
  /** A failing inject is retried this often with doubling delays before the file fails (default 8, 20 ms up to 1 s). */
  retry?: Partial<RetryPolicy>;
}

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
  } else if (output?.type === "fifo") {
    if (typeof output.path !== "string" || output.path === "") {
      throw badOption("output.path", "must be the FIFO's path", output.path);
    }
    if (output.precision !== undefined && output.precision !== "micro" && output.precision !== "nano") {
      throw badOption("output.precision", 'must be "micro" or "nano"', output.precision);
    }
  } else {
    throw badOption("output", 'must be { type: "interface", interface } or { type: "fifo", path }', output);
  }
  const { maxGapMs, oversize } = options;
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
}

/**
 * Replays capture files into an interface or a FIFO, one continuous timeline across files. Files are
 * replayed one after another in call order; the interface is driven by a child process of its own.
 */
export class Replayer {
  private readonly speed: Speed;
  private readonly maxGapMs: number;
  private readonly oversize: "skip" | "truncate";
  private readonly macs: { src: Uint8Array; dst: Uint8Array };
  private readonly retry: RetryPolicy;
  private readonly timeline: Timeline;
  private sink: Sink | null = null;
  private converter: LinkConverter | null = null;
  private seq = 0;
  private resetPending = false;
  private active: ActiveFile | null = null;
  private tail: Promise<unknown> = Promise.resolve();
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
    const macs = options.macs ?? DEFAULT_MACS;
    this.macs = { src: parseMac(macs.src, "macs.src"), dst: parseMac(macs.dst, "macs.dst") };
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.timeline = new Timeline(this.speed, this.maxGapMs);
  }

  /** Opens the interface (its own child process) or creates the FIFO; rejects with ReplayError. */
  async start(): Promise<void> {
    if (this.stopping) throw new ReplayError("stopped", "this Replayer was stopped; make a new one");
    if (this.sink?.alive) return;
    const { output } = this.options;
    if (output.type === "fifo") {
      await ensureFifo(output.path);
      this.sink = new FifoSink(output.path, output.precision ?? "micro");
    } else {
      this.sink = await InjectSink.open({
        interface: output.interface,
        ...(output.netns === undefined ? {} : { netns: output.netns }),
        retry: this.retry,
      });
      this.converter = new LinkConverter(this.sink.linkType!, this.macs);
    }
  }

  /** Replays one file; consecutive calls form one timeline (see the README for what that keeps). */
  replayFile(path: string, options: ReplayFileOptions = {}): Promise<FileReplayStats> {
    const run = this.tail.then(() => this.replayOne(path, options));
    this.tail = run.catch(() => {});
    return run;
  }

  /** Cumulative stats since start; `files` counts files replayed to their end. */
  stats(): ReplayerStats {
    return { ...this.totals, skipped: { ...this.totals.skipped } };
  }

  /** Stops at a record boundary; resolves when the output is closed. */
  async stop(): Promise<void> {
    this.stopping = true;
    const active = this.active;
    if (active) {
      active.cancel("stop");
      await active.finished.catch(() => {});
    }
    await this.sink?.close();
  }

  /** The speed in effect, as parseSpeed accepts it. */
  get speedText(): string {
    return formatSpeed(this.speed);
  }

  private async replayOne(path: string, options: ReplayFileOptions): Promise<FileReplayStats> {
    const started = performance.now();
    const stats: FileReplayStats = {
      path,
      packetsSent: 0,
      bytesSent: 0,
      skipped: { oversize: 0, unsupported: 0 },
      truncated: 0,
      failed: 0,
      durationMs: 0,
      pps: 0,
      mbps: 0,
      timingErrorUs: null,
    };
    const stopped = (by: string): ReplayError =>
      new ReplayError("stopped", `replaying ${path} was stopped (${by}) at a record boundary`, { path, by });
    if (this.stopping) throw stopped("stop").withStats(stats);
    if (options.signal?.aborted) throw stopped("signal").withStats(stats);
    await this.start();
    const sink = this.sink!;
    const seq = ++this.seq;
    let cancelledBy: "stop" | "signal" | null = null;
    const cancel = (by: "stop" | "signal"): void => {
      if (cancelledBy) return;
      cancelledBy = by;
      sink.cancel(seq);
    };
    const onAbort = (): void => cancel("signal");
    options.signal?.addEventListener("abort", onAbort, { once: true });
    let finish!: () => void;
    this.active = { cancel, finished: new Promise<void>((resolve) => (finish = resolve)) };
    sink.beginFile(seq, (packets, bytes) => {
      stats.packetsSent = packets;
      stats.bytesSent = bytes;
      options.onProgress?.({ path, packetsSent: packets, bytesSent: bytes, packetsTotal: null });
    });
    let failure: ReplayError | null = null;
    try {
      failure = await this.produce(path, seq, sink, stats, () => cancelledBy !== null);
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
    }
    const result = await sink.endFile(seq);
    this.active = null;
    finish();
    stats.packetsSent = result.packets;
    stats.bytesSent = result.bytes;
    stats.failed = result.failed;
    stats.durationMs = Math.round((performance.now() - started) * 1000) / 1000;
    const seconds = stats.durationMs / 1000;
    stats.pps = seconds > 0 ? Math.round(result.packets / seconds) : 0;
    stats.mbps = seconds > 0 ? Math.round(((result.bytes * 8) / 1e6 / seconds) * 1000) / 1000 : 0;
    stats.timingErrorUs = this.timeline.paced ? result.timing : null;
    this.addTotals(stats);
    const error =
      failure ?? result.error ?? (cancelledBy || result.cancelled ? stopped(cancelledBy ?? "stop") : null);
    if (error) {
      if (error.reason !== "bad-file") {
        this.timeline.reset();
        this.resetPending = true;
      }
      throw error.withStats(stats);
    }
    this.totals.files++;
    return stats;
  }

  /** Reads, converts, schedules and hands on the file's records; returns the file's own error, if any. */
  private async produce(
    path: string,
    seq: number,
    sink: Sink,
    stats: FileReplayStats,
    cancelled: () => boolean,
  ): Promise<ReplayError | null> {
    // The decoder calls back once per record without allocating; records go straight into the sink's
    // batch, and the loop awaits only once per chunk read.
    const records = new RecordFeed(this, path, seq, sink, stats);
    const decoder = new CaptureDecoder(records);
    try {
      for await (const chunk of readChunks(path)) {
        if (cancelled()) return null;
        decoder.push(chunk);
        if (records.wantsFlush) {
          records.wantsFlush = false;
          await sink.flush();
        }
      }
      if (!cancelled()) decoder.end();
    } catch (error) {
      return this.fileError(path, error);
    }
    return null;
  }

  /** Send time and flags of the next record (the timeline is shared by every file). */
  schedule(seconds: number, nanoseconds: number, frameBytes: number, first: boolean): [number, number] {
    const sendAt = this.timeline.next(seconds, nanoseconds, frameBytes);
    let flags = first ? FLAG_FIRST_OF_FILE : 0;
    if (this.resetPending) {
      flags |= FLAG_RESET;
      this.resetPending = false;
    }
    return [sendAt, flags];
  }

  /** The converter for a link type, made for the sink's link type (a FIFO takes the first file's). */
  converterFor(sink: Sink, linkType: number, where: Record<string, unknown>): FrameConverter {
    if (sink.linkType === null) (sink as FifoSink).linkType = linkType;
    this.converter ??= new LinkConverter(sink.linkType!, this.macs);
    return this.converter.for(linkType, where);
  }

  get truncateOversize(): boolean {
    return this.oversize === "truncate";
  }

  private fileError(path: string, error: unknown): ReplayError {
    if (ReplayError.isInstance(error)) return error;
    if (PcapFormatError.isInstance(error)) {
      return new ReplayError(
        "bad-file",
        `${path} is not a readable capture: ${error.message}`,
        {
          path,
          offset: error.offset,
          formatReason: error.reason,
        },
        { cause: error },
      );
    }
    const code = (error as NodeJS.ErrnoException).code;
    return new ReplayError(
      "bad-file",
      `cannot read ${path}: ${(error as Error).message}`,
      { path, code },
      {
        cause: error,
      },
    );
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

/** Decoder callbacks of one file: convert, check size, schedule, add to the sink's batch. */
class RecordFeed implements DecoderSink {
  wantsFlush = false;
  private first = true;
  private readonly converters: (FrameConverter | undefined)[] = [];
  private readonly linkTypes: number[] = [];

  constructor(
    private readonly replayer: Replayer,
    private readonly path: string,
    private readonly seq: number,
    private readonly sink: Sink,
    private readonly stats: FileReplayStats,
  ) {}

  interface(info: InterfaceInfo): void {
    this.linkTypes[info.id] = info.linkType;
  }

  packet(
    buf: Uint8Array,
    dataOffset: number,
    capturedLength: number,
    originalLength: number,
    seconds: number,
    nanoseconds: number,
    interfaceId: number,
  ): void {
    let convert = this.converters[interfaceId];
    if (!convert) {
      const where = { path: this.path, interfaceId };
      convert = this.replayer.converterFor(this.sink, this.linkTypes[interfaceId]!, where);
      this.converters[interfaceId] = convert;
    }
    let frame = convert(buf.subarray(dataOffset, dataOffset + capturedLength));
    if (frame === null) {
      this.stats.skipped.unsupported++;
      return;
    }
    const limit = this.sink.frameLimit(frame);
    if (frame.length > limit) {
      if (!this.replayer.truncateOversize) {
        this.stats.skipped.oversize++;
        return;
      }
      frame = frame.subarray(0, limit);
      this.stats.truncated++;
    }
    const [sendAt, flags] = this.replayer.schedule(seconds, nanoseconds, frame.length, this.first);
    this.first = false;
    const wireLength = originalLength - capturedLength + frame.length;
    if (this.sink.add(this.seq, frame, sendAt, flags, seconds, nanoseconds, wireLength))
      this.wantsFlush = true;
  }
}
