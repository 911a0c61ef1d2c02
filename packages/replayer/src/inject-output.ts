// The parent's side of an inject child: spawns it (inside `ip netns exec` when asked), names the files
// to replay over IPC and turns the child's messages into file outcomes.
import { type ChildProcess, spawn } from "node:child_process";
import type { ChildMessage, InjectChildConfig, ParentMessage } from "./child-protocol.js";
import { injectChildPath } from "./child-script.js";
import { ReplayError } from "./errors.js";
import type { FileOutcome, Output } from "./output.js";

interface PendingFile {
  packets: number;
  bytes: number;
  onProgress: (packets: number, bytes: number) => void;
  done: (outcome: FileOutcome) => void;
}

/** What the inject child is started with, beyond its own defaults. */
export type InjectOutputOptions = Omit<InjectChildConfig, "bufferTimeoutMs" | "timingSamples"> & {
  netns?: string;
};

export class InjectOutput implements Output {
  private readonly files = new Map<number, PendingFile>();
  private exited = false;
  private exit: { code: number | null; signal: string | null } = { code: null, signal: null };
  private readonly exitPromise: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    private readonly options: InjectOutputOptions,
    /** What libpcap reported for the interface. */
    readonly linkType: number,
  ) {
    this.exitPromise = new Promise((resolve) => child.once("exit", () => resolve()));
    child.on("message", (message: ChildMessage) => this.onMessage(message));
    child.once("exit", (code, signal) => this.onExit(code, signal));
    child.stderr?.on("data", (text: Buffer) => process.stderr.write(text));
  }

  /** Spawns the child and waits until its handle is open; rejects with ReplayError. */
  static async open(options: InjectOutputOptions): Promise<InjectOutput> {
    const { netns, ...rest } = options;
    const config: InjectChildConfig = { ...rest, bufferTimeoutMs: 1000, timingSamples: 1_000_000 };
    const nodeArgs = [injectChildPath(), JSON.stringify(config)];
    const [command, args] = netns
      ? ["ip", ["netns", "exec", netns, process.execPath, ...nodeArgs]]
      : [process.execPath, nodeArgs];
    const child = spawn(command, args as string[], { stdio: ["ignore", "inherit", "pipe", "ipc"] });
    let stderr = "";
    const collect = (text: Buffer): void => {
      if (stderr.length < 4000) stderr += text.toString("utf8");
    };
    child.stderr!.on("data", collect);
    const ready = await new Promise<Extract<ChildMessage, { type: "ready" }>>((resolve, reject) => {
      const onMessage = (message: ChildMessage): void => {
        if (message.type === "ready") {
          cleanup();
          resolve(message);
        } else if (message.type === "error") {
          cleanup();
          reject(ReplayError.fromJSON(message.error));
        }
      };
      const onExit = (code: number | null, signal: string | null): void => {
        cleanup();
        const where = netns ? ` in namespace ${netns}` : "";
        const missingNetns = /Cannot open network namespace|No such file/i.test(stderr);
        reject(
          new ReplayError(
            missingNetns ? "no-such-interface" : "inject-failed",
            `the inject child for "${options.interface}"${where} exited (${signal ?? `code ${code}`}) before it was ready: ${stderr.trim() || "no output"}`,
            { interface: options.interface, netns, code, signal },
          ),
        );
      };
      const cleanup = (): void => {
        child.off("message", onMessage);
        child.off("exit", onExit);
        child.stderr!.off("data", collect);
      };
      child.on("message", onMessage);
      child.once("exit", onExit);
    });
    return new InjectOutput(child, options, ready.linkType);
  }

  get alive(): boolean {
    return !this.exited;
  }

  /** Process id of the inject child. */
  get pid(): number | null {
    return this.exited ? null : (this.child.pid ?? null);
  }

  replay(
    seq: number,
    path: string,
    onProgress: (packets: number, bytes: number) => void,
  ): Promise<FileOutcome> {
    return new Promise<FileOutcome>((done) => {
      this.files.set(seq, { packets: 0, bytes: 0, onProgress, done });
      if (this.exited) this.failPending();
      else this.post({ type: "file", seq, path });
    });
  }

  cancel(seq: number): void {
    this.post({ type: "cancel", seq });
  }

  private post(message: ParentMessage): void {
    if (!this.exited && this.child.connected) this.child.send(message);
  }

  private onMessage(message: ChildMessage): void {
    const file = "seq" in message ? this.files.get(message.seq) : undefined;
    if (!file) return;
    if (message.type === "progress") {
      file.packets = message.packets;
      file.bytes = message.bytes;
      file.onProgress(file.packets, file.bytes);
    } else if (message.type === "done") {
      this.files.delete(message.seq);
      if (message.packets !== file.packets) file.onProgress(message.packets, message.bytes);
      file.done({
        packets: message.packets,
        bytes: message.bytes,
        failed: message.failed,
        skipped: message.skipped,
        truncated: message.truncated,
        cancelled: message.cancelled,
        error: message.error ? ReplayError.fromJSON(message.error) : null,
        timing: message.timing,
        sendingMs:
          message.firstSendMs === null || message.lastSendMs === null
            ? 0
            : message.lastSendMs - message.firstSendMs,
      });
    }
  }

  private onExit(code: number | null, signal: string | null): void {
    this.exited = true;
    this.exit = { code, signal };
    this.failPending();
  }

  private failPending(): void {
    const { code, signal } = this.exit;
    for (const [seq, file] of this.files) {
      this.files.delete(seq);
      file.done({
        packets: file.packets,
        bytes: file.bytes,
        failed: 0,
        skipped: { oversize: 0, unsupported: 0 },
        truncated: 0,
        cancelled: false,
        error: new ReplayError(
          "inject-failed",
          `the inject child for "${this.options.interface}" exited (${signal ?? `code ${code}`}) while replaying`,
          { interface: this.options.interface, code, signal },
        ),
        timing: null,
        sendingMs: 0,
      });
    }
  }

  async close(): Promise<void> {
    if (this.exited) return;
    this.post({ type: "stop" });
    const killer = setTimeout(() => this.child.kill("SIGKILL"), 2000);
    await this.exitPromise;
    clearTimeout(killer);
  }
}
