// The caller's side of an inject loop: spawns the inject child (inside `ip netns exec` when asked) or,
// for a one-shot replay, runs the loop in this process; names the files to replay and turns the loop's
// messages into file outcomes.
import type { ChildMessage, InjectChildConfig, ParentMessage } from "./child-protocol.js";
import { ReplayError } from "./errors.js";
import { interfaceState, openInjectHandle, type PacketIoKind } from "./inject-handle.js";
import { InjectLoop } from "./inject-loop.js";
import type { FileOutcome, Output } from "./output.js";

/** Where the loop runs: the inject child, over IPC, or this process. */
interface LoopLink {
  post(message: ParentMessage): void;
  readonly pid: number | null;
  /** Ends the loop; resolves once it is gone (the child exited). */
  stop(): Promise<void>;
}

interface PendingFile {
  packets: number;
  bytes: number;
  onProgress: (packets: number, bytes: number) => void;
  done: (outcome: FileOutcome) => void;
}

/** What the inject child is started with, beyond its own defaults. */
export type InjectOutputOptions = Omit<
  InjectChildConfig,
  "bufferTimeoutMs" | "timingSamples" | "packetIo" | "qdiscBypass"
> & {
  /** Default: SLUICE_PACKET_IO as the loop's process sees it, else "auto". */
  packetIo?: "auto" | "native" | "pcap";
  qdiscBypass?: boolean;
  netns?: string;
  /**
   * Runs the loop in this process instead of a child: no second Node process to start (about 0.1 s),
   * but the libpcap handle stays open until the process exits, and a paced replay blocks this
   * process's event loop between yields. For one-shot replays; not with `netns`.
   */
  inProcess?: boolean;
};

const TIMING_SAMPLES = 1_000_000;

/** The loop's settings: the output's options and the loop's own defaults, in the child or in process. */
function loopConfig(options: InjectOutputOptions): InjectChildConfig {
  const { netns: _netns, inProcess: _inProcess, packetIo, qdiscBypass, ...rest } = options;
  return {
    ...rest,
    ...(packetIo === undefined ? {} : { packetIo }),
    qdiscBypass: qdiscBypass ?? false,
    bufferTimeoutMs: 1000,
    timingSamples: TIMING_SAMPLES,
  };
}

export class InjectOutput implements Output {
  private readonly files = new Map<number, PendingFile>();
  private exited = false;
  private exit: { code: number | null; signal: string | null } = { code: null, signal: null };
  private link!: LoopLink;
  /** Called once no file is pending (see drained). */
  private waiters: (() => void)[] = [];

  private constructor(
    private readonly options: InjectOutputOptions,
    /** LINKTYPE_ of the frames the interface takes. */
    readonly linkType: number,
    /** What sends: the packet-io addon or node_pcap. */
    readonly packetIo: PacketIoKind,
    /** Why node_pcap although the addon was allowed (it did not load); null otherwise. */
    readonly fallback: string | null,
  ) {}

  /** Opens the interface in this process and runs the loop here (see `inProcess`). */
  private static async openInProcess(options: InjectOutputOptions): Promise<InjectOutput> {
    if (options.netns !== undefined) {
      throw new ReplayError(
        "bad-option",
        "an in-process inject loop cannot enter another network namespace",
        {
          option: "output.inProcess",
          value: { netns: options.netns },
        },
      );
    }
    const config = loopConfig(options);
    const { handle, fallback } = await openInjectHandle(config.interface, config);
    const output = new InjectOutput(options, handle.linkType, handle.kind, fallback);
    // Both ways go through a microtask, as IPC would a moment later: the caller's callbacks (progress,
    // an abort that cancels) never run inside the loop's send code, nor the loop inside theirs.
    const loop = new InjectLoop(handle, interfaceState(config.interface), config, (message) =>
      queueMicrotask(() => output.onMessage(message)),
    );
    output.link = {
      pid: null,
      post: (message) => queueMicrotask(() => loop.receive(message)),
      stop: async () => {
        // Files still going are stopped at a record boundary and end as cancelled, not as failed.
        const drained = output.drained();
        for (const seq of output.files.keys()) loop.cancel(seq);
        await drained;
        // The addon's socket closes now; node_pcap's handle lives on until the process exits.
        handle.close();
        output.onExit(0, null);
      },
    };
    return output;
  }

  /** Spawns the child and waits until its handle is open (or opens it here); rejects with ReplayError. */
  static async open(options: InjectOutputOptions): Promise<InjectOutput> {
    if (options.inProcess) return InjectOutput.openInProcess(options);
    // Loaded for a child only: node:child_process costs a one-shot replay in this process 4 ms to load.
    const [{ NodeChild }, { injectChildPath }] = await Promise.all([
      import("@sluice/capture/child-process"),
      import("./child-script.js"),
    ]);
    const { netns } = options;
    const child = new NodeChild<ParentMessage, ChildMessage>({
      script: injectChildPath(),
      config: loopConfig(options),
      ...(netns === undefined ? {} : { netns }),
      stdout: "inherit",
    });
    const ready = await child.ready(
      (message) => {
        if (message.type === "error") throw ReplayError.fromJSON(message.error);
        return message.type === "ready" ? message : undefined;
      },
      ({ code, signal }) => {
        const where = netns ? ` in namespace ${netns}` : "";
        const stderr = child.stderr;
        const missingNetns = /Cannot open network namespace|No such file/i.test(stderr);
        return new ReplayError(
          missingNetns ? "no-such-interface" : "inject-failed",
          `the inject child for "${options.interface}"${where} exited (${signal ?? `code ${code}`}) before it was ready: ${stderr.trim() || "no output"}`,
          { interface: options.interface, netns, code, signal },
        );
      },
    );
    const output = new InjectOutput(options, ready.linkType, ready.packetIo, ready.fallback);
    child.onMessage((message) => output.onMessage(message));
    void child.exited.then(({ code, signal }) => output.onExit(code, signal));
    // From now on what the child says on stderr goes to this process's.
    child.process.stderr!.on("data", (text: string) => process.stderr.write(text));
    output.link = {
      pid: child.pid,
      post: (message) => child.send(message),
      stop: async () => {
        await child.stop({ type: "stop" }, 2000);
      },
    };
    return output;
  }

  get alive(): boolean {
    return !this.exited;
  }

  /** Process id of the inject child (null when the loop runs in this process). */
  get pid(): number | null {
    return this.exited ? null : this.link.pid;
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
    if (!this.exited) this.link.post(message);
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
      if (this.files.size === 0) for (const resolve of this.waiters.splice(0)) resolve();
    }
  }

  /** Resolves once no file is pending. */
  private drained(): Promise<void> {
    if (this.files.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private onExit(code: number | null, signal: string | null): void {
    this.exited = true;
    this.exit = { code, signal };
    this.failPending();
  }

  private failPending(): void {
    const { code, signal } = this.exit;
    for (const resolve of this.waiters.splice(0)) resolve();
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
    await this.link.stop();
  }
}
