// The inject loop: one inject handle on one interface. It is told which files to replay, reads them
// itself (decode, convert, schedule into batches, a few at a time) and sends each record close to its
// send time. With the packet-io addon: at topspeed a whole chunk's records per call, found by one native
// scan (no JavaScript per record but for odd ones) and sent from the buffer the chunk was read into;
// paced, this loop spins to each send time and the addon sends what is due in one call. With node_pcap,
// one frame per call. It runs in the inject child (inject-child.ts), or in the caller's process for a
// one-shot replay (InjectOutput.open with inProcess).
import type { RecordScanner } from "@sluice/packet-io";
import { type Batch, BatchBuilder, fileEnd, type QueueItem, RUN_RECORDS, recycle } from "./batch-builder.js";
import {
  type ChildMessage,
  type ErrorJson,
  FLAG_BORROWED,
  FLAG_FIRST_OF_FILE,
  type InjectChildConfig,
  type ParentMessage,
} from "./child-protocol.js";
import { ChunkPool } from "./chunk-pool.js";
import {
  type InjectHandle,
  type InterfaceState,
  interfaceState,
  linkReady,
  sendFault,
} from "./inject-handle.js";
import { nowNs, PaceClock } from "./pace-clock.js";
import {
  type FeedContext,
  type FeedCounts,
  FileFeeder,
  feedContext,
  fileError,
  type RecordTarget,
} from "./record-feed.js";
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
/**
 * Paced, a read step is one 128 KiB chunk (decoding it takes a few hundred µs), made into a batch of its
 * own, and is taken while the next send is at least this far away: a step that ran to a full 256 KiB
 * batch took 0.5-1.5 ms and, begun with 2 ms of room on a busy machine, made sends after it late.
 */
const READ_ROOM_NS = 1_000_000;
/** Progress goes to the parent at most this often. */
const PROGRESS_EVERY_MS = 100;
/**
 * An 802.1Q tag: the kernel takes such a frame 4 bytes over MTU plus header. Only 0x8100: it refuses an
 * 802.1ad (0x88a8) frame of that size with EMSGSIZE (packet_extra_vlan_len_allowed, measured on 6.18).
 */
const VLAN_TPID = 0x8100;
/** Topspeed with node_pcap: records sent straight from the reader between two yields to the event loop. */
const DIRECT_YIELD_EVERY = 256;
/** The interface's queue stayed full through a send call's own waiting: try again after this long. */
const BUSY_RETRY_MS = 1;

const sleeper = new Int32Array(new SharedArrayBuffer(4));

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

/** A frame length as the interface's limits see it: MTU plus link header, plus 4 for an 802.1Q tag. */
type FrameLimit = (buf: Uint8Array, start: number, length: number) => number;

/** Replays files through one open handle; reports progress and outcomes through `post`. */
export class InjectLoop {
  private readonly files = new Map<number, FileState>();
  private readonly jobs: Job[] = [];
  private readonly queue: QueueItem[] = [];
  private readonly pool: Batch[] = [];
  /** Topspeed with the addon: the buffers chunks are read into, reused once their runs were sent. */
  private readonly chunks: ChunkPool;
  private readonly context: FeedContext;
  private readonly target: Omit<RecordTarget, "add">;
  private readonly frameLimit: FrameLimit;
  private readonly pace = new PaceClock();
  // Where the loop stands inside queue[0].
  private index = 0;
  private timer: NodeJS.Timeout | null = null;
  private scheduled = false;
  private reading = false;
  private attempt = 0;
  /** Why the record at the cursor was last refused (while `attempt` > 0). */
  private fault: unknown = null;
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
  /**
   * Topspeed with the addon: records are borrowed from the buffers their chunks were read into (found
   * by the scanner, see plainRecords) and sent from there in runs, one call each.
   */
  private readonly borrowing: boolean;
  /** 14 on Ethernet (frames carry a link header the MTU does not count), else 0. */
  private readonly headerLength: number;

  constructor(
    private readonly handle: InjectHandle,
    state: InterfaceState,
    private readonly config: InjectChildConfig,
    private readonly post: (message: ChildMessage) => void,
  ) {
    this.paced = config.speed.kind !== "topspeed";
    this.borrowing = !this.paced && handle.kind === "native";
    this.chunks = new ChunkPool(8, handle.allocate);
    this.spinning = config.timer === "spin";
    this.spinner = this.paced ? new Spinner(nowNs) : null;
    this.context = feedContext(config);
    const headerLength = state.ethernet ? 14 : 0;
    this.headerLength = headerLength;
    this.mtu = state.mtu;
    this.frameLimit = (buf, start, length) => {
      const tagged =
        headerLength === 14 && length >= 14 && ((buf[start + 12]! << 8) | buf[start + 13]!) === VLAN_TPID;
      return this.mtu + headerLength + (tagged ? 4 : 0);
    };
    this.target = { linkType: () => handle.linkType, frameLimit: this.frameLimit };
  }

  /** Starts reading a file; its records queue behind those of earlier files. */
  replay(seq: number, path: string): void {
    const now = interfaceState(this.config.interface);
    if (now.exists) this.mtu = now.mtu;
    const builder = new BatchBuilder(seq, this.pool, this.borrowing ? this.chunks : null);
    const state = this.file(seq);
    // Topspeed with node_pcap sends records straight from the decoder while nothing is queued, without
    // copying them into a batch; a failed inject falls back to the batch path, which retries with
    // backoff, order kept. Topspeed with the addon borrows them instead: each chunk is read into a buffer
    // of its own, and its records become a run sent from there with one call (see pump).
    const direct = this.config.speed.kind === "topspeed" && this.handle.kind === "pcap";
    let sent = 0;
    const target: RecordTarget = {
      ...this.target,
      add: (buf, start, length, sendAt, flags) => {
        if (this.borrowing && (flags & FLAG_BORROWED) !== 0) return builder.borrow(buf, start, length);
        if (direct && !builder.pending && this.queue.length === 0 && this.jobs[0]?.seq === seq) {
          // Dropped; returning true ends the read step, so the reader sees the file is done with.
          if (state.cancelled || state.error) return true;
          try {
            // A fresh view, not a copy into a scratch buffer: measured 6% faster here, and topspeed
            // has no send times for a garbage-collector pause to spoil.
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
      // One run per chunk at topspeed, one batch per chunk when paced: into the queue as soon as decoded.
      flush: () => (this.borrowing ? builder.sealRun() : this.paced && builder.seal()),
      // Topspeed with the addon: a chunk's plain records become runs in one native call each, with no
      // JavaScript per record; the decoder reads the others (the first, odd or oversize ones) as usual.
      ...(this.borrowing && this.handle.scanner
        ? { records: this.plainRecords(builder, this.handle.scanner) }
        : {}),
    };
    const feeder = new FileFeeder(this.context, target, path, this.borrowing ? this.chunks : null);
    state.counts = feeder.feed.counts;
    this.jobs.push({ seq, feeder, builder });
    this.pump();
  }

  /** RecordTarget.records for one file's builder: the scanner's runs, borrowed from the chunk. */
  private plainRecords(builder: BatchBuilder, scanner: RecordScanner): NonNullable<RecordTarget["records"]> {
    return (buf, offset, end, layout) => {
      const limit = this.mtu + this.headerLength;
      const tagged = this.headerLength === 14 ? limit + 4 : limit;
      let to = offset;
      const sealed = builder.borrowMany(buf, (run) => {
        to = scanner.scan(buf, to, end, layout, limit, tagged, run.positions, run.count, RUN_RECORDS);
        run.count += scanner.count;
        return run.count === RUN_RECORDS && to < end;
      });
      return { to, sealed };
    };
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
    const step =
      state.cancelled || state.error ? job.feeder.close() : job.feeder.next(this.paced ? 1 : undefined);
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
        if (!state.cancelled) for (const batch of job.builder.take()) this.queue.push(batch);
        if (job.feeder.done) {
          this.jobs.shift();
          this.queue.push(fileEnd(job.seq));
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
    if (!this.linkBack()) return;
    this.lastYield = nowNs();
    for (;;) {
      const item = this.queue[0];
      // Reading decodes a whole batch (most of a millisecond): at topspeed between batches; when
      // paced, only while a send time is far enough away (see sendBatch), or when nothing is left.
      // Borrowing, the loop sends what was read before it reads on (a send on a pool thread overlapping the
      // next read measured no better here: the two threads and the peer's receive share two cores).
      if (!item || (!this.paced && !this.borrowing && this.index === 0 && this.queue.length <= READ_AHEAD)) {
        if (this.readAhead() && !item) return;
      }
      if (!item) return;
      if (item.kind === "end") {
        this.queue.shift();
        this.finish(item.seq);
        this.yieldThenPump();
        return;
      }
      if (this.index === 0) this.waited = false;
      if (!this.sendBatch(item)) return;
      this.queue.shift();
      recycle(item, this.pool, this.chunks);
      this.index = 0;
      // Paced, the loop goes straight on to the next batch: it yields (and reports progress) only
      // where a send time leaves room for it. Borrowing, it sends every run read so far, then reads on
      // and yields once the read step is done.
      if (this.paced || this.borrowing) continue;
      this.progress(item.seq, this.file(item.seq));
      this.yieldThenPump();
      return;
    }
  }

  /**
   * Before a failed record goes again: false when the link is not back yet (see linkReady), which counts
   * as another failed attempt, so the retry waits the next step of its backoff.
   */
  private linkBack(): boolean {
    const item = this.queue[0];
    if (this.attempt === 0 || !item || item.kind === "end" || linkReady(this.config.interface)) return true;
    const state = this.file(item.seq);
    if (state.cancelled || state.error) return true;
    if (!this.retry(state, this.fault)) return false;
    // Given up: the record counts as failed, as when its last send failed.
    this.advance(1);
    return true;
  }

  /** Sends the batch's records from the cursor on; false when it stopped to wait (timer set). */
  private sendBatch(batch: Batch): boolean {
    const state = this.file(batch.seq);
    const { count, sendAt: sendAts, positions } = batch;
    while (this.index < count) {
      if (state.cancelled || state.error) return true;
      const sendAt = sendAts[this.index]!;
      // Topspeed: the rest of the batch in one call. Paced: the record at the cursor, and with it every
      // later one that is already due by the time it goes.
      let run = count - this.index;
      let target = Number.NaN;
      if (!Number.isNaN(sendAt)) {
        run = 1;
        if (this.attempt === 0) {
          target = this.waitFor(batch, sendAt, state);
          if (Number.isNaN(target)) return false;
        }
      }
      const sentAt = nowNs();
      if (!Number.isNaN(target)) {
        // Due: scheduled at or before now (the clock after the wait, not the led target).
        const due = sentAt - this.pace.origin;
        while (this.index + run < count && sendAts[this.index + run]! <= due) run++;
      }
      let sent: number;
      try {
        sent = this.handle.send(batch.bytes, positions, this.index, run);
      } catch (error) {
        if (this.refused(batch, state, error)) continue;
        return false;
      }
      if (sent === 0) {
        // The interface's queue stayed full through the call's own waiting: let IPC in, then go on.
        this.later(BUSY_RETRY_MS);
        return false;
      }
      const endedAt = nowNs();
      if (this.paced) this.latency.record(sentAt, endedAt, sent);
      // The first of a run is measured against its (possibly led) target, the rest against their own.
      if (!Number.isNaN(target)) {
        for (let i = this.index; i < this.index + sent; i++) {
          state.timing.add((sentAt - (i === this.index ? target : this.pace.at(sendAts[i]!))) / 1000);
        }
      }
      this.book(batch, state, sent, sentAt / 1e6, endedAt / 1e6);
    }
    return true;
  }

  /** Books `sent` records from the cursor on as gone out between `firstMs` and `lastMs`; moves past them. */
  private book(batch: Batch, state: FileState, sent: number, firstMs: number, lastMs: number): void {
    let bytes = 0;
    for (let i = this.index; i < this.index + sent; i++) bytes += batch.positions[2 * i + 1]!;
    state.firstSendMs ??= firstMs;
    state.lastSendMs = lastMs;
    state.packets += sent;
    state.bytes += bytes;
    this.attempt = 0;
    this.advance(sent);
  }

  /**
   * A send of the record at the cursor threw: true to go on from the cursor (an oversize record skipped
   * or cut, or the record given up on after its retries), false when a retry was scheduled.
   */
  private refused(batch: Batch, state: FileState, error: unknown): boolean {
    if (this.oversize(batch, error)) return true;
    this.fault = error;
    if (!this.retry(state, error)) return false;
    this.advance(1);
    return true;
  }

  /**
   * Waits until the record at the cursor is due and returns its target (ns), or NaN when the loop
   * stopped to wait (a timer, a yield or a read step will pump again).
   */
  private waitFor(batch: Batch, sendAt: number, state: FileState): number {
    const now = nowNs();
    // A file's first record may start the clock anew when it is already late (the file came after
    // its gap had passed, or the timeline was reset after a stopped or failed file: its first send
    // time is then 0); decided once per record, not again after waiting for it.
    const restart = !this.waited && (batch.flags[this.index]! & FLAG_FIRST_OF_FILE) !== 0;
    this.waited = true;
    // A send after a quiet spell takes longer to reach the wire: it starts that much earlier.
    let target = this.pace.due(sendAt, now, restart);
    target -= this.latency.lead(target);
    const wait = target - now;
    const seq = batch.seq;
    if (!this.spinning && wait > TIMER_SLEEP_NS) {
      this.progress(seq, state);
      this.readAhead();
      this.later(Math.floor((wait - TIMER_MARGIN_NS) / 1e6));
      return Number.NaN;
    }
    // Reading the next chunk and yielding (IPC) take up to a millisecond: done while there is room
    // before the send time, or when it has been too long.
    if (wait > READ_ROOM_NS && this.readAhead()) return Number.NaN;
    const sinceYield = now - this.lastYield;
    if (this.spinning && wait > YIELD_ROOM_NS) {
      // Never idle (an idle CPU makes the next send cold, see SendLatency): spin a slice, let IPC in.
      this.spinner!.until(now + SPIN_SLICE_NS);
      this.progress(seq, state);
      this.yieldThenPump();
      return Number.NaN;
    }
    if ((wait > YIELD_ROOM_NS && sinceYield > YIELD_EVERY_NS) || sinceYield > YIELD_AT_LEAST_NS) {
      this.progress(seq, state);
      if (!this.readAhead()) this.yieldThenPump();
      return Number.NaN;
    }
    if (!this.spinning) {
      // From the clock as it is now: the checks above may have taken a while (a GC pause, say).
      const left = target - nowNs();
      if (left > SPIN_NS) Atomics.wait(sleeper, 0, 0, (left - SPIN_NS) / 1e6);
    }
    this.spinner!.until(target);
    return target;
  }

  /**
   * A record the interface refused as too long (EMSGSIZE from the addon, or node_pcap's failure on a
   * frame over the MTU as it is now: the MTU changed since the file was read) goes the way of every
   * oversize record: skipped, or cut to the limit and sent again. False for any other error.
   */
  private oversize(batch: Batch, error: unknown): boolean {
    const start = batch.positions[2 * this.index]!;
    const length = batch.positions[2 * this.index + 1]!;
    const now = interfaceState(this.config.interface);
    if (now.exists) this.mtu = now.mtu;
    const limit = this.frameLimit(batch.bytes, start, length);
    if (!sendFault(error).tooBig && length <= limit) return false;
    const counts = this.file(batch.seq).counts;
    if (this.context.truncate && limit < length) {
      batch.positions[2 * this.index + 1] = limit;
      counts.truncated++;
    } else {
      counts.skipped.oversize++;
      this.advance(1);
    }
    this.attempt = 0;
    return true;
  }

  private advance(records: number): void {
    this.waited = false;
    this.index += records;
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
    const fault = sendFault(error);
    const detail = {
      interface: name,
      operstate: ifState.operstate,
      attempts: attempts + 1,
      packetIo: this.handle.kind,
      ...(fault.errno ? { errno: fault.errno, error: fault.message } : { libpcap: fault.message }),
    };
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
            message: `inject on "${name}" failed ${attempts + 1} times: ${fault.message}`,
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
