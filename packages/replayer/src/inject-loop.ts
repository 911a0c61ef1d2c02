// The inject loop: one libpcap handle on one interface. It is told which files to replay, reads them
// itself (decode, convert, schedule into batches, a few at a time) and sends each record close to its
// send time. It runs in the inject child (inject-child.ts), or in the caller's process for a one-shot
// replay (InjectOutput.open with inProcess).
import { performance } from "node:perf_hooks";
import { BatchBuilder, endFrame, recycle } from "./batch-builder.js";
import {
  BATCH_HEADER,
  type ChildMessage,
  type ErrorJson,
  FLAG_FIRST_OF_FILE,
  FRAME_BATCH,
  FRAME_END,
  FRAME_PREFIX,
  type InjectChildConfig,
  type ParentMessage,
  RECORD_HEADER,
} from "./child-protocol.js";
import { type InjectHandle, type InterfaceState, interfaceState } from "./inject-handle.js";
import { LinkConverter, parseMac } from "./link-convert.js";
import {
  type FeedContext,
  type FeedCounts,
  FileFeeder,
  fileError,
  type RecordTarget,
} from "./record-feed.js";
import { Timeline } from "./timeline.js";
import { SendLatency, Spinner, TimingRecorder } from "./timing.js";

/** Waits longer than this sleep on a timer, so IPC (cancel, stop) stays responsive. */
const TIMER_SLEEP_NS = 4_000_000;
/** A timer wakes up this long before the send time: Node's timers have 1 ms steps and fire late. */
const TIMER_MARGIN_NS = 2_000_000;
/** Timer "sleep": the last stretch before a send time is busy-waited; before it the thread sleeps. */
const SPIN_NS = 500_000;
/** Timer "spin" busy-waits a long wait in slices this long, letting IPC in between. */
const SPIN_SLICE_NS = 1_000_000;
/** Sleeping in Atomics.wait blocks IPC: the loop yields to the event loop this often when it has room, */
const YIELD_EVERY_NS = 10_000_000;
/** room being a wait this long, */
const YIELD_ROOM_NS = 2_000_000;
/** and at least this often. */
const YIELD_AT_LEAST_NS = 50_000_000;
/** Batches read ahead of the one being sent. */
const READ_AHEAD = 2;
/** Progress goes to the parent at most this often. */
const PROGRESS_EVERY_MS = 100;
/** 802.1Q and 802.1ad tags: a tagged frame may be 4 bytes longer. */
const isVlanTpid = (tpid: number): boolean => tpid === 0x8100 || tpid === 0x88a8;
/** Topspeed records sent straight from the reader between two yields to the event loop. */
const DIRECT_YIELD_EVERY = 256;

const sleeper = new Int32Array(new SharedArrayBuffer(4));
const nowNs = (): number => performance.now() * 1e6;

class FileState {
  packets = 0;
  bytes = 0;
  failed = 0;
  cancelled = false;
  /** Sending failed: the rest of the file is dropped. */
  error: ErrorJson | null = null;
  /** Reading failed: what was read before still goes out. */
  readError: ErrorJson | null = null;
  firstSendMs: number | null = null;
  lastSendMs: number | null = null;
  lastProgress = 0;
  /** What reading the file skipped and truncated. */
  counts: FeedCounts = { skipped: { oversize: 0, unsupported: 0 }, truncated: 0 };
  readonly timing: TimingRecorder;

  constructor(timingSamples: number) {
    this.timing = new TimingRecorder(timingSamples);
  }
}

/** A file being read into batches. */
interface Job {
  seq: number;
  feeder: FileFeeder;
  builder: BatchBuilder;
}

/** Replays files through one open handle; reports progress and outcomes through `post`. */
export class InjectLoop {
  private readonly files = new Map<number, FileState>();
  private readonly jobs: Job[] = [];
  private readonly queue: Buffer[] = [];
  private readonly pool: Buffer[] = [];
  private readonly context: FeedContext;
  private readonly target: Omit<RecordTarget, "add">;
  private converter: LinkConverter | null = null;
  private anchor: number | null = null;
  // Where the loop stands inside queue[0].
  private index = 0;
  private offset = 0;
  private timer: NodeJS.Timeout | null = null;
  private scheduled = false;
  private reading = false;
  private attempt = 0;
  private lastYield = 0;
  private readonly paced: boolean;
  private readonly spinning: boolean;
  /** The interface's MTU, read again for every file (it may be changed between files). */
  private mtu: number;
  /** The record at the cursor was already scheduled once (the loop waited for it). */
  private waited = false;
  /** Paced only: its calibration takes a few milliseconds, which a topspeed replay need not wait. */
  private readonly spinner: Spinner | null;
  private readonly latency = new SendLatency();

  constructor(
    private readonly handle: InjectHandle,
    state: InterfaceState,
    private readonly config: InjectChildConfig,
    private readonly post: (message: ChildMessage) => void,
  ) {
    this.paced = config.speed.kind !== "topspeed";
    this.spinning = config.timer === "spin";
    this.spinner = this.paced ? new Spinner(nowNs) : null;
    const macs = { src: parseMac(config.macs.src, "macs.src"), dst: parseMac(config.macs.dst, "macs.dst") };
    this.context = {
      timeline: new Timeline(config.speed, config.maxGapMs),
      converter: (linkType) => {
        this.converter ??= new LinkConverter(linkType, macs);
        return this.converter;
      },
      truncate: config.oversize === "truncate",
    };
    const headerLength = state.ethernet ? 14 : 0;
    this.mtu = state.mtu;
    this.target = {
      linkType: () => handle.linkType,
      frameLimit: (buf, start, length) => {
        const tagged =
          headerLength === 14 && length >= 14 && isVlanTpid((buf[start + 12]! << 8) | buf[start + 13]!);
        return this.mtu + headerLength + (tagged ? 4 : 0);
      },
    };
  }

  /** Starts reading a file; its records queue behind those of earlier files. */
  replay(seq: number, path: string): void {
    const now = interfaceState(this.config.interface);
    if (now.exists) this.mtu = now.mtu;
    const builder = new BatchBuilder(seq, this.pool);
    const state = this.file(seq);
    // Topspeed sends records straight from the decoder while nothing is queued: no copy into a batch.
    // A failed inject falls back to the batch path, which retries with backoff; order is kept.
    const direct = this.config.speed.kind === "topspeed";
    let sent = 0;
    const target: RecordTarget = {
      ...this.target,
      add: (buf, start, length, sendAt, flags) => {
        if (direct && !builder.pending && this.queue.length === 0 && this.jobs[0]?.seq === seq) {
          // Dropped; returning true ends the read step, so the reader sees the file is done with.
          if (state.cancelled || state.error) return true;
          try {
            // A fresh view, not injectRange's copy: measured 6% faster here, and topspeed has no send
            // times for a garbage-collector pause to spoil.
            this.handle.inject(new Uint8Array(buf.buffer, buf.byteOffset + start, length));
            // The clock is read once per read step (see readAhead), not per record.
            state.firstSendMs ??= performance.now();
            state.packets++;
            state.bytes += length;
            // Every few hundred records the reader returns, so the loop can yield to IPC.
            return ++sent % DIRECT_YIELD_EVERY === 0;
          } catch {
            // Falls through: the batch path retries this record.
          }
        }
        return builder.add(buf, start, length, sendAt, flags);
      },
    };
    const feeder = new FileFeeder(this.context, target, path);
    state.counts = feeder.feed.counts;
    this.jobs.push({ seq, feeder, builder });
    this.pump();
  }

  /** What the caller asks: replay a file, or cancel one (a stop is the caller's to carry out). */
  receive(message: ParentMessage): void {
    if (message.type === "file") this.replay(message.seq, message.path);
    else if (message.type === "cancel") this.cancel(message.seq);
  }

  cancel(seq: number): void {
    // A file already finished (its outcome sent) has nothing left to stop.
    const state = this.files.get(seq);
    if (!state) return;
    state.cancelled = true;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
      this.attempt = 0;
    }
    this.pump();
  }

  private file(seq: number): FileState {
    let state = this.files.get(seq);
    if (!state) {
      state = new FileState(this.config.timingSamples);
      this.files.set(seq, state);
    }
    return state;
  }

  private later(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.timer = null;
      this.pump();
    }, delayMs);
  }

  /** Yields to the event loop between batches so IPC messages get in. */
  private yieldThenPump(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  // Reads the current job's next batches (or ends it) while the queue runs low.
  private readAhead(): boolean {
    const job = this.jobs[0];
    if (!job || this.reading || this.queue.length > READ_AHEAD) return false;
    this.reading = true;
    const state = this.file(job.seq);
    const sentBefore = state.packets;
    // A stopped or failed file is read no further.
    const step = state.cancelled || state.error ? job.feeder.close() : job.feeder.next();
    // next() turns a read error into feeder.error itself; close() failing (closing the file) ends the read.
    step
      .catch((error: unknown) => {
        job.feeder.done = true;
        job.feeder.error ??= fileError(job.feeder.path, error);
      })
      .then(() => {
        this.reading = false;
        if (state.packets !== sentBefore) state.lastSendMs = performance.now();
        if (job.feeder.done) {
          job.builder.seal();
          if (job.feeder.error) state.readError = job.feeder.error.toJSON();
        }
        if (!state.cancelled) for (const frame of job.builder.take()) this.queue.push(frame);
        if (job.feeder.done) {
          this.jobs.shift();
          this.queue.push(endFrame(job.seq));
        }
        this.progress(job.seq, state);
        this.yieldThenPump();
      });
    return true;
  }

  private progress(seq: number, state: FileState): void {
    const now = performance.now();
    if (now - state.lastProgress < PROGRESS_EVERY_MS) return;
    state.lastProgress = now;
    this.post({ type: "progress", seq, packets: state.packets, bytes: state.bytes });
  }

  pump(): void {
    if (this.timer || this.scheduled) return;
    this.lastYield = nowNs();
    for (;;) {
      const frame = this.queue[0];
      // Reading decodes a whole batch (most of a millisecond): at topspeed between batches; when
      // paced, only while a send time is far enough away (see sendBatch), or when nothing is left.
      if (!frame || (!this.paced && this.queue.length <= READ_AHEAD && this.offset === 0)) {
        if (this.readAhead() && !frame) return;
      }
      if (!frame) return;
      const kind = frame[4];
      const seq = frame.readUInt32LE(FRAME_PREFIX);
      if (kind === FRAME_END) {
        this.queue.shift();
        this.finish(seq);
        this.yieldThenPump();
        return;
      }
      if (kind !== FRAME_BATCH) throw new Error(`unknown frame kind ${kind}`);
      if (this.offset === 0) {
        this.index = 0;
        this.offset = FRAME_PREFIX + BATCH_HEADER;
        this.waited = false;
      }
      if (!this.sendBatch(frame, seq)) return;
      this.queue.shift();
      recycle(frame, this.pool);
      this.offset = 0;
      // Paced, the loop goes straight on to the next batch: it yields (and reports progress) only
      // where a send time leaves room for it.
      if (this.paced) continue;
      this.progress(seq, this.file(seq));
      this.yieldThenPump();
      return;
    }
  }

  /** Sends the batch's records from the cursor on; false when it stopped to wait (timer set). */
  private sendBatch(frame: Buffer, seq: number): boolean {
    const count = frame.readUInt32LE(FRAME_PREFIX + 4);
    const state = this.file(seq);
    while (this.index < count) {
      if (state.cancelled || state.error) return true;
      const sendAt = frame.readDoubleLE(this.offset);
      const length = frame.readUInt32LE(this.offset + 8);
      const flags = frame.readUInt32LE(this.offset + 12);
      const start = this.offset + RECORD_HEADER;
      let target = Number.NaN;
      if (!Number.isNaN(sendAt) && this.attempt === 0) {
        const now = nowNs();
        // A file's first record may start the clock anew when it is already late (the file came after
        // its gap had passed, or the timeline was reset after a stopped or failed file: its first send
        // time is then 0); decided once per record, not again after waiting for it.
        const late = this.anchor !== null && this.anchor + sendAt < now;
        const fresh = !this.waited;
        this.waited = true;
        if (this.anchor === null || (fresh && (flags & FLAG_FIRST_OF_FILE) !== 0 && late)) {
          this.anchor = now - sendAt;
        }
        // A send after a quiet spell takes longer to reach the wire: it starts that much earlier.
        target = this.anchor + sendAt;
        target -= this.latency.lead(target);
        const wait = target - now;
        if (!this.spinning && wait > TIMER_SLEEP_NS) {
          this.progress(seq, state);
          this.readAhead();
          this.later(Math.floor((wait - TIMER_MARGIN_NS) / 1e6));
          return false;
        }
        // Reading the next batch and yielding (IPC) take up to a millisecond: done while there is room
        // before the send time, or when it has been too long.
        if (wait > YIELD_ROOM_NS && this.readAhead()) return false;
        const sinceYield = now - this.lastYield;
        if (this.spinning && wait > YIELD_ROOM_NS) {
          // Never idle (an idle CPU makes the next send cold, see SendLatency): spin a slice, let IPC in.
          this.spinner!.until(now + SPIN_SLICE_NS);
          this.progress(seq, state);
          this.yieldThenPump();
          return false;
        }
        if ((wait > YIELD_ROOM_NS && sinceYield > YIELD_EVERY_NS) || sinceYield > YIELD_AT_LEAST_NS) {
          this.progress(seq, state);
          if (!this.readAhead()) this.yieldThenPump();
          return false;
        }
        if (!this.spinning) {
          // From the clock as it is now: the checks above may have taken a while (a GC pause, say).
          const left = target - nowNs();
          if (left > SPIN_NS) Atomics.wait(sleeper, 0, 0, (left - SPIN_NS) / 1e6);
        }
        this.spinner!.until(target);
      }
      const sentAt = nowNs();
      try {
        this.handle.injectRange(frame, start, length);
      } catch (error) {
        if (!this.retry(state, error)) return false;
        this.advance(start + length);
        continue;
      }
      if (this.paced) this.latency.record(sentAt, nowNs());
      if (!Number.isNaN(target)) state.timing.add((sentAt - target) / 1000);
      const sentMs = sentAt / 1e6;
      state.firstSendMs ??= sentMs;
      state.lastSendMs = sentMs;
      state.packets++;
      state.bytes += length;
      this.attempt = 0;
      this.advance(start + length);
    }
    return true;
  }

  private advance(next: number): void {
    this.waited = false;
    this.offset = next;
    this.index++;
  }

  /** Schedules another attempt (false) or gives the record and the file up (true). */
  private retry(state: FileState, error: unknown): boolean {
    const { attempts, initialDelayMs, maxDelayMs } = this.config.retry;
    if (this.attempt < attempts) {
      this.later(Math.min(maxDelayMs, initialDelayMs * 2 ** this.attempt));
      this.attempt++;
      return false;
    }
    this.attempt = 0;
    state.failed++;
    const name = this.config.interface;
    const ifState = interfaceState(name);
    const libpcap = error instanceof Error ? error.message : String(error);
    const detail = { interface: name, operstate: ifState.operstate, attempts: attempts + 1, libpcap };
    state.error = !ifState.exists
      ? { reason: "interface-down", message: `interface "${name}" disappeared while injecting`, detail }
      : !ifState.up
        ? {
            reason: "interface-down",
            message: `interface "${name}" is down (operstate ${ifState.operstate}); inject failed ${attempts + 1} times`,
            detail,
          }
        : {
            reason: "inject-failed",
            message: `inject on "${name}" failed ${attempts + 1} times: ${libpcap}`,
            detail,
          };
    return true;
  }

  private finish(seq: number): void {
    const state = this.file(seq);
    this.files.delete(seq);
    if (state.cancelled || state.error) {
      // The next file starts a fresh timeline instead of waiting out what this one did not send.
      this.context.timeline.reset();
    }
    this.post({
      type: "done",
      seq,
      packets: state.packets,
      bytes: state.bytes,
      failed: state.failed,
      skipped: state.counts.skipped,
      truncated: state.counts.truncated,
      cancelled: state.cancelled,
      error: state.error ?? state.readError,
      timing: state.timing.summary(),
      firstSendMs: state.firstSendMs,
      lastSendMs: state.lastSendMs,
    });
  }
}
