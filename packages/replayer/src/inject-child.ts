// The inject child: one libpcap handle on one interface, fed records over fd 3, pacing them close to
// the inject call. It exits to close the handle (node_pcap cannot close an open_live handle cleanly).
import { Socket } from "node:net";
import { performance } from "node:perf_hooks";
import {
  BATCH_HEADER,
  type ChildMessage,
  type ErrorJson,
  FLAG_FIRST_OF_FILE,
  FLAG_RESET,
  FRAME_BATCH,
  FRAME_END,
  FRAME_PREFIX,
  type InjectChildConfig,
  type ParentMessage,
  RECORD_HEADER,
} from "./child-protocol.js";
import { ReplayError } from "./errors.js";
import { FrameReader } from "./frame-reader.js";
import { InjectHandle, interfaceState } from "./inject-handle.js";
import { TimingRecorder } from "./timing.js";

/** Waits longer than this sleep on a timer, so IPC (cancel, stop) stays responsive. */
const TIMER_SLEEP_NS = 2_000_000;
/** The last stretch before a send time is busy-waited; before it the thread sleeps in Atomics.wait. */
const SPIN_NS = 300_000;
/** Sleeping in Atomics.wait blocks IPC: the loop yields to the event loop at least this often. */
const YIELD_EVERY_NS = 10_000_000;

const config = JSON.parse(process.argv[2] ?? "{}") as InjectChildConfig;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

function send(message: ChildMessage, then?: () => void): void {
  if (!process.connected) {
    then?.();
    return;
  }
  if (then) process.send!(message, () => then());
  else process.send!(message);
}

function toJson(error: unknown): ErrorJson {
  if (ReplayError.isInstance(error)) return error.toJSON();
  return { reason: "inject-failed", message: String(error), detail: {} };
}

class FileState {
  packets = 0;
  bytes = 0;
  failed = 0;
  cancelled = false;
  error: ErrorJson | null = null;
  firstSendMs: number | null = null;
  lastSendMs: number | null = null;
  readonly timing = new TimingRecorder(config.timingSamples);
}

const nowNs = (): number => performance.now() * 1e6;

class InjectLoop {
  private readonly files = new Map<number, FileState>();
  private readonly queue: Buffer[] = [];
  private anchor: number | null = null;
  // Where the loop stands inside queue[0].
  private index = 0;
  private offset = 0;
  private batchPackets = 0;
  private batchBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private scheduled = false;
  private attempt = 0;
  private lastYield = 0;
  /** The record at the cursor was already scheduled once (the loop waited for it). */
  private waited = false;

  constructor(private readonly handle: InjectHandle) {}

  enqueue(frames: Buffer[]): void {
    for (const frame of frames) this.queue.push(frame);
    this.pump();
  }

  cancel(seq: number): void {
    this.file(seq).cancelled = true;
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
      state = new FileState();
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

  /** Yields to the event loop between batches so pipe data and IPC messages get in. */
  private yieldThenPump(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  pump(): void {
    if (this.timer || this.scheduled) return;
    this.lastYield = nowNs();
    const frame = this.queue[0];
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
      this.batchPackets = 0;
      this.batchBytes = 0;
      this.waited = false;
    }
    if (!this.sendBatch(frame, seq)) return;
    this.queue.shift();
    this.offset = 0;
    send({
      type: "progress",
      seq,
      packets: this.batchPackets,
      bytes: this.batchBytes,
      frameBytes: frame.length,
    });
    this.yieldThenPump();
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
        let now = nowNs();
        // A file's first record may start the clock anew when it is already late (the file came after
        // its gap had passed); decided once per record, not again after waiting for it.
        const late = this.anchor !== null && this.anchor + sendAt < now;
        const fresh = !this.waited;
        this.waited = true;
        if (
          this.anchor === null ||
          (fresh && (flags & FLAG_RESET) !== 0) ||
          (fresh && (flags & FLAG_FIRST_OF_FILE) !== 0 && late)
        ) {
          this.anchor = now - sendAt;
        }
        target = this.anchor + sendAt;
        const wait = target - now;
        if (wait > TIMER_SLEEP_NS) {
          this.later(Math.floor((wait - SPIN_NS) / 1e6));
          return false;
        }
        if (wait > SPIN_NS) {
          if (now - this.lastYield > YIELD_EVERY_NS) {
            this.yieldThenPump();
            return false;
          }
          Atomics.wait(sleeper, 0, 0, (wait - SPIN_NS) / 1e6);
        }
        while (now < target) now = nowNs();
      }
      const sentAt = nowNs();
      try {
        this.handle.inject(frame.subarray(start, start + length));
      } catch (error) {
        if (!this.retry(state, error)) return false;
        this.advance(start + length);
        continue;
      }
      if (!Number.isNaN(target)) state.timing.add((sentAt - target) / 1000);
      const sentMs = sentAt / 1e6;
      state.firstSendMs ??= sentMs;
      state.lastSendMs = sentMs;
      state.packets++;
      state.bytes += length;
      this.batchPackets++;
      this.batchBytes += length;
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
    const { attempts, initialDelayMs, maxDelayMs } = config.retry;
    if (this.attempt < attempts) {
      this.later(Math.min(maxDelayMs, initialDelayMs * 2 ** this.attempt));
      this.attempt++;
      return false;
    }
    this.attempt = 0;
    state.failed++;
    const name = config.interface;
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
    send({
      type: "done",
      seq,
      packets: state.packets,
      bytes: state.bytes,
      failed: state.failed,
      cancelled: state.cancelled,
      error: state.error,
      timing: state.timing.summary(),
      firstSendMs: state.firstSendMs,
      lastSendMs: state.lastSendMs,
    });
  }
}

function main(): void {
  let handle: InjectHandle;
  try {
    handle = InjectHandle.open(config.interface, config.bufferTimeoutMs);
  } catch (error) {
    send({ type: "error", error: toJson(error) }, () => process.exit(3));
    return;
  }
  const loop = new InjectLoop(handle);
  const reader = new FrameReader();
  const input = new Socket({ fd: 3, readable: true, writable: false });
  input.on("data", (chunk: Buffer) => loop.enqueue(reader.push(chunk)));
  input.on("error", () => process.exit(4));
  const exit = (): void => process.exit(0);
  process.on("message", (message: ParentMessage) => {
    if (message.type === "cancel") loop.cancel(message.seq);
    else if (message.type === "stop") exit();
  });
  process.on("disconnect", exit);
  process.on("SIGTERM", exit);
  process.on("SIGINT", exit);
  const state = interfaceState(config.interface);
  send({
    type: "ready",
    linkType: handle.linkType,
    mtu: state.mtu,
    ethernet: state.ethernet,
    pid: process.pid,
  });
}

main();
