// The parent's side of an inject child: spawns it (inside `ip netns exec` when asked), streams record
// batches to it over fd 3 with a bound on bytes in flight, and turns its messages into file results.
import { type ChildProcess, spawn } from "node:child_process";
import type { Writable } from "node:stream";
import {
  BATCH_HEADER,
  type ChildMessage,
  type ErrorJson,
  FRAME_BATCH,
  FRAME_END,
  FRAME_PREFIX,
  type InjectChildConfig,
  type ParentMessage,
  RECORD_HEADER,
} from "./child-protocol.js";
import { injectChildPath } from "./child-script.js";
import { ReplayError } from "./errors.js";
import type { Sink, SinkFileResult } from "./sink.js";

/** Bytes per batch frame sent to the child. */
const BATCH_BYTES = 256 * 1024;
/** Batch bytes the child may hold unsent before the reader waits. */
const MAX_IN_FLIGHT = 4 * 1024 * 1024;
const VLAN_TPIDS = new Set([0x8100, 0x88a8]);

interface PendingFile {
  packets: number;
  bytes: number;
  onProgress: (packets: number, bytes: number) => void;
  done?: (result: SinkFileResult) => void;
}

function errorOf(json: ErrorJson): ReplayError {
  return ReplayError.fromJSON(json);
}

/** Inject child options beyond the interface. */
export interface InjectSinkOptions {
  interface: string;
  netns?: string;
  retry: InjectChildConfig["retry"];
}

export class InjectSink implements Sink {
  readonly linkType: number;
  private readonly headerLength: number;
  private batch = Buffer.allocUnsafe(BATCH_BYTES);
  private batchOffset = FRAME_PREFIX + BATCH_HEADER;
  private batchCount = 0;
  private batchSeq = -1;
  private inFlight = 0;
  private inFlightWaiter: (() => void) | null = null;
  private readonly files = new Map<number, PendingFile>();
  private exited = false;
  private exitPromise: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    private readonly input: Writable,
    ready: Extract<ChildMessage, { type: "ready" }>,
    private readonly options: InjectSinkOptions,
  ) {
    this.linkType = ready.linkType;
    this.mtu = ready.mtu;
    this.headerLength = ready.ethernet ? 14 : 0;
    this.exitPromise = new Promise((resolve) => child.once("exit", () => resolve()));
    child.on("message", (message: ChildMessage) => this.onMessage(message));
    child.once("exit", (code, signal) => this.onExit(code, signal));
    input.on("error", () => {});
  }

  readonly mtu: number;

  /** Spawns the child and waits until its handle is open. */
  static async open(options: InjectSinkOptions): Promise<InjectSink> {
    const config: InjectChildConfig = {
      interface: options.interface,
      bufferTimeoutMs: 1000,
      retry: options.retry,
      timingSamples: 1_000_000,
    };
    const nodeArgs = [injectChildPath(), JSON.stringify(config)];
    const [command, args] = options.netns
      ? ["ip", ["netns", "exec", options.netns, process.execPath, ...nodeArgs]]
      : [process.execPath, nodeArgs];
    const child = spawn(command, args as string[], { stdio: ["ignore", "inherit", "pipe", "pipe", "ipc"] });
    let stderr = "";
    child.stderr!.setEncoding("utf8").on("data", (text: string) => {
      if (stderr.length < 4000) stderr += text;
      else process.stderr.write(text);
    });
    const ready = await new Promise<Extract<ChildMessage, { type: "ready" }>>((resolve, reject) => {
      const onMessage = (message: ChildMessage): void => {
        if (message.type === "ready") {
          cleanup();
          resolve(message);
        } else if (message.type === "error") {
          cleanup();
          reject(errorOf(message.error));
        }
      };
      const onExit = (code: number | null, signal: string | null): void => {
        cleanup();
        const where = options.netns ? ` in namespace ${options.netns}` : "";
        const reason = /Cannot open network namespace|No such file/i.test(stderr)
          ? "no-such-interface"
          : "inject-failed";
        reject(
          new ReplayError(
            reason,
            `the inject child for "${options.interface}"${where} exited (${signal ?? `code ${code}`}) before it was ready: ${stderr.trim() || "no output"}`,
            { interface: options.interface, netns: options.netns, code, signal },
          ),
        );
      };
      const cleanup = (): void => {
        child.off("message", onMessage);
        child.off("exit", onExit);
      };
      child.on("message", onMessage);
      child.once("exit", onExit);
    });
    return new InjectSink(child, child.stdio[3] as Writable, ready, options);
  }

  get alive(): boolean {
    return !this.exited;
  }

  frameLimit(frame: Uint8Array): number {
    const tagged =
      this.headerLength === 14 && frame.length >= 14 && VLAN_TPIDS.has((frame[12]! << 8) | frame[13]!);
    return this.mtu + this.headerLength + (tagged ? 4 : 0);
  }

  beginFile(seq: number, onProgress: (packets: number, bytes: number) => void): void {
    this.files.set(seq, { packets: 0, bytes: 0, onProgress });
  }

  add(
    seq: number,
    frame: Uint8Array,
    sendAtNs: number,
    flags: number,
    _seconds: number,
    _nanoseconds: number,
    _originalLength: number,
  ): boolean {
    const needed = RECORD_HEADER + frame.length;
    if (this.batchCount > 0 && (seq !== this.batchSeq || this.batchOffset + needed > this.batch.length)) {
      this.seal();
    }
    if (FRAME_PREFIX + BATCH_HEADER + needed > this.batch.length) {
      this.batch = Buffer.allocUnsafe(FRAME_PREFIX + BATCH_HEADER + needed);
    }
    this.batchSeq = seq;
    const b = this.batch;
    let o = this.batchOffset;
    b.writeDoubleLE(sendAtNs, o);
    b.writeUInt32LE(frame.length, o + 8);
    b.writeUInt32LE(flags, o + 12);
    o += RECORD_HEADER;
    b.set(frame, o);
    this.batchOffset = o + frame.length;
    this.batchCount++;
    return this.sealed.length > 0;
  }

  private sealed: Buffer[] = [];

  // Closes the batch being filled into a frame ready to write.
  private seal(): void {
    if (this.batchCount === 0) return;
    const frame = this.batch.subarray(0, this.batchOffset);
    frame.writeUInt32LE(this.batchOffset - FRAME_PREFIX, 0);
    frame[4] = FRAME_BATCH;
    frame.writeUInt32LE(this.batchSeq, FRAME_PREFIX);
    frame.writeUInt32LE(this.batchCount, FRAME_PREFIX + 4);
    this.sealed.push(frame);
    this.batch = Buffer.allocUnsafe(BATCH_BYTES);
    this.batchOffset = FRAME_PREFIX + BATCH_HEADER;
    this.batchCount = 0;
  }

  async flush(): Promise<void> {
    for (const frame of this.sealed.splice(0)) {
      while (this.inFlight > MAX_IN_FLIGHT && !this.exited) {
        await new Promise<void>((resolve) => {
          this.inFlightWaiter = resolve;
        });
      }
      if (this.exited) return;
      this.inFlight += frame.length;
      this.input.write(frame);
    }
  }

  async endFile(seq: number): Promise<SinkFileResult> {
    this.seal();
    await this.flush();
    const file = this.files.get(seq);
    if (!file) throw new Error(`file ${seq} was never begun`);
    const result = new Promise<SinkFileResult>((resolve) => {
      file.done = resolve;
    });
    if (this.exited) this.onExit(null, null);
    else {
      const end = Buffer.alloc(FRAME_PREFIX + 4);
      end.writeUInt32LE(4, 0);
      end[4] = FRAME_END;
      end.writeUInt32LE(seq, FRAME_PREFIX);
      this.input.write(end);
    }
    return result;
  }

  cancel(seq: number): void {
    // Records of the file still in this process never leave it.
    if (this.batchSeq === seq) {
      this.batchCount = 0;
      this.batchOffset = FRAME_PREFIX + BATCH_HEADER;
    }
    this.sealed = this.sealed.filter((frame) => frame.readUInt32LE(FRAME_PREFIX) !== seq);
    this.post({ type: "cancel", seq });
  }

  private post(message: ParentMessage): void {
    if (!this.exited && this.child.connected) this.child.send(message);
  }

  private onMessage(message: ChildMessage): void {
    if (message.type === "progress") {
      this.inFlight -= message.frameBytes;
      if (this.inFlight <= MAX_IN_FLIGHT && this.inFlightWaiter) {
        const wake = this.inFlightWaiter;
        this.inFlightWaiter = null;
        wake();
      }
      const file = this.files.get(message.seq);
      if (file && message.packets > 0) {
        file.packets += message.packets;
        file.bytes += message.bytes;
        file.onProgress(file.packets, file.bytes);
      }
    } else if (message.type === "done") {
      const file = this.files.get(message.seq);
      this.files.delete(message.seq);
      file?.done?.({
        packets: message.packets,
        bytes: message.bytes,
        failed: message.failed,
        cancelled: message.cancelled,
        error: message.error ? errorOf(message.error) : null,
        timing: message.timing,
      });
    }
  }

  private onExit(code: number | null, signal: string | null): void {
    this.exited = true;
    const wake = this.inFlightWaiter;
    this.inFlightWaiter = null;
    wake?.();
    for (const [seq, file] of this.files) {
      if (!file.done) continue;
      this.files.delete(seq);
      file.done({
        packets: file.packets,
        bytes: file.bytes,
        failed: 0,
        cancelled: false,
        error: new ReplayError(
          "inject-failed",
          `the inject child for "${this.options.interface}" exited (${signal ?? `code ${code}`}) while replaying`,
          { interface: this.options.interface, code, signal },
        ),
        timing: null,
      });
    }
  }

  async close(): Promise<void> {
    if (!this.exited) {
      this.post({ type: "stop" });
      const killer = setTimeout(() => this.child.kill("SIGKILL"), 2000);
      await this.exitPromise;
      clearTimeout(killer);
    }
  }
}
