import { type ChildProcess, spawn } from "node:child_process";
import { EventEmitter } from "node:events";
import type { Readable } from "node:stream";
import { CaptureDecoder, MAX_CAPTURE_LENGTH } from "@sluice/pcap-format";
import type { ChildConfig, ChildMessage, ChildOutputConfig, ParentMessage } from "./child-protocol.js";
import { childScriptPath } from "./child-script.js";
import type { HandoverCounts } from "./cutover.js";
import { CaptureError } from "./errors.js";
import type { FanoutMode, LiveOptions, PacketIoMode } from "./live-handle.js";
import { type CaptureStats, emptyStats, type SourcePacket } from "./source.js";

/** Which packets to capture by direction (Ethernet interfaces and "any"). */
export type Direction = "in" | "out" | "inout";

/** Options of a live interface capture. */
export interface InterfaceSourceOptions {
  /** Interface name; "any" captures on all (as Linux cooked frames). */
  interface: string;
  /** Source label, used in file names (default: the interface name). */
  name?: string;
  /** BPF filter, as for tcpdump. */
  filter?: string;
  /** Bytes kept of each packet (default 65535). */
  snaplen?: number;
  /** Put the interface in promiscuous mode (default true: a SPAN port's traffic is not addressed to us). */
  promiscuous?: boolean;
  /** libpcap's kernel ring, in bytes (default 64 MiB). */
  bufferSize?: number;
  /** How long libpcap holds packets before handing a block over, in ms (default 100; must be > 0). */
  bufferTimeoutMs?: number;
  /**
   * Only inbound or outbound packets (default both). On Ethernet interfaces outbound means "sent from the
   * interface's own MAC address", on "any" it is the cooked header's packet type; see the README for why
   * libpcap's own inbound/outbound are not used.
   */
  direction?: Direction;
  /** Switch to this user (and its groups) once the capture is open, as tcpdump -Z does. */
  user?: string;
  /** Switch to this group once the capture is open. */
  group?: string;
  /** Run the capture inside this network namespace (ip netns exec). */
  netns?: string;
  /** Packets queued for the consumer beyond this many bytes are dropped and counted (default 64 MiB). */
  maxQueuedBytes?: number;
  /**
   * Packet I/O: "native" is the packet-io addon (whole batches per JavaScript call; required), "pcap" is
   * node_pcap (one call per packet), "auto" the addon when it loads, else node_pcap with one warning.
   * Default: the SLUICE_PACKET_IO environment variable, else "auto".
   */
  packetIo?: PacketIoMode;
  /**
   * Join a PACKET_FANOUT group, so several captures of one interface share its packets (needs the addon).
   * `group` null or unset: the kernel picks an unused id, readable as `fanoutGroup` once started, for the
   * others to join. `mode` "hash" (default) keeps both directions of a TCP/UDP flow in one member.
   */
  fanout?: { group?: number | null; mode?: FanoutMode; defrag?: boolean };
  /**
   * Runs another child entry point (built on runCaptureChild) with its own output settings instead of
   * streaming packets to this process; messages it sends arrive as "output" events. How the rotator
   * captures and rotates in one process.
   */
  child?: { script: string; output: ChildOutputConfig };
  /**
   * Take over from a running capture of the same interface without a gap: start() resolves once the
   * capture is open (filter set) but nothing is read until startFrom(cut). The cut comes from the
   * predecessor: `cut = await previous.cut(t)` with t at or after `openedAtUs` (and a little in the
   * future); then `startFrom(cut)`, `previous.stop()`, and each frame is kept by exactly one of the two.
   */
  successor?: boolean;
}

export interface InterfaceSourceEvents {
  packet: [SourcePacket];
  error: [CaptureError];
  /**
   * The capture broke while running: the interface was deleted (`no-such-interface`, libpcap's "The
   * interface disappeared") or went down. The child keeps every packet it took (its output is finished,
   * files published) and exits; stop() then resolves with its final counters. Start a new source to
   * capture again.
   */
  lost: [CaptureError];
  warning: [string];
  /** A message from a custom child's output. */
  output: [unknown];
}

function option(condition: boolean, name: string, message: string): void {
  if (!condition) throw new CaptureError("bad-option", `${name} ${message}`, { option: name });
}

/** Validates options and fills in defaults. */
export function liveOptionsOf(options: InterfaceSourceOptions): LiveOptions {
  option(
    typeof options.interface === "string" && options.interface.length > 0,
    "interface",
    "must be a name",
  );
  const snaplen = options.snaplen ?? 65535;
  option(
    Number.isInteger(snaplen) && snaplen >= 64 && snaplen <= MAX_CAPTURE_LENGTH,
    "snaplen",
    `must be 64..${MAX_CAPTURE_LENGTH}`,
  );
  const bufferSize = options.bufferSize ?? 64 << 20;
  option(Number.isInteger(bufferSize) && bufferSize >= 1 << 20, "bufferSize", "must be at least 1 MiB");
  const bufferTimeoutMs = options.bufferTimeoutMs ?? 100;
  // Never immediate mode: libpcap then falls back to a small ring that overflows at a few thousand packets.
  option(
    Number.isInteger(bufferTimeoutMs) && bufferTimeoutMs >= 1 && bufferTimeoutMs <= 10_000,
    "bufferTimeoutMs",
    "must be 1..10000 ms (immediate mode is never used)",
  );
  const direction = options.direction ?? "inout";
  option(["in", "out", "inout"].includes(direction), "direction", "must be in, out or inout");
  const packetIo = options.packetIo;
  option(
    packetIo === undefined || ["auto", "native", "pcap"].includes(packetIo),
    "packetIo",
    "must be auto, native or pcap",
  );
  const group = options.fanout?.group ?? null;
  option(
    group === null || (Number.isInteger(group) && group >= 0 && group <= 0xffff),
    "fanout.group",
    "must be 0..65535 (or null: the kernel picks one)",
  );
  return {
    interface: options.interface,
    filter: (options.filter ?? "").trim(),
    direction,
    snaplen,
    promiscuous: options.promiscuous ?? true,
    bufferSize,
    bufferTimeoutMs,
    ...(packetIo !== undefined && { packetIo }),
    ...(options.fanout && {
      fanout: { group, mode: options.fanout.mode ?? "hash", defrag: options.fanout.defrag ?? false },
    }),
  };
}

/**
 * A live capture on one interface, run in a child process of its own (node_pcap cannot close a handle
 * cleanly in-process). Packets arrive as "packet" events carrying the source label; start() resolves
 * once the interface is open and rejects with a CaptureError naming what went wrong.
 */
export class InterfaceSource extends EventEmitter<InterfaceSourceEvents> {
  readonly name: string;
  /** LINKTYPE_ of the packets, once started. */
  linkType: number | null = null;
  /** Process id of the capture child, once started. */
  pid: number | null = null;
  /** Which packet I/O the child uses, once started: the packet-io addon or node_pcap. */
  packetIo: "native" | "pcap" | null = null;
  /** The PACKET_FANOUT group the child joined, once started (null without fanout). */
  fanoutGroup: number | null = null;
  /** A time (µs since the epoch) by which the capture was open with its filter set, once started. */
  openedAtUs: number | null = null;
  /** Frames left to a predecessor or successor at a cut: as of the last stats() reply, final once stopped. */
  handover: HandoverCounts = { beforeCut: 0, afterCut: 0 };
  private readonly config: ChildConfig;
  private child: ChildProcess | null = null;
  private decoder: CaptureDecoder | null = null;
  private finalStats: CaptureStats | null = null;
  private stderrTail = "";
  private requestId = 0;
  private readonly pending = new Map<number, (stats: CaptureStats) => void>();
  private exited: Promise<void> = Promise.resolve();
  private streamEnded: Promise<void> = Promise.resolve();
  private stopping = false;
  private lostError: CaptureError | null = null;

  constructor(private readonly options: InterfaceSourceOptions) {
    super();
    this.name = options.name ?? options.interface;
    this.config = {
      label: this.name,
      live: liveOptionsOf(options),
      ...(options.user !== undefined && { user: options.user }),
      ...(options.group !== undefined && { group: options.group }),
      output: options.child?.output ?? { kind: "stream", maxQueuedBytes: options.maxQueuedBytes ?? 64 << 20 },
      ...(options.successor && { successor: true }),
    };
  }

  /** Opens the interface in a child process; resolves when it captures. */
  async start(): Promise<void> {
    if (this.child) throw new Error(`capture ${this.name} already started`);
    const script = this.options.child?.script ?? childScriptPath();
    const nodeArgs = [script, JSON.stringify(this.config)];
    const [command, args] = this.options.netns
      ? ["ip", ["netns", "exec", this.options.netns, process.execPath, ...nodeArgs]]
      : [process.execPath, nodeArgs];
    // A custom child keeps its packets (it writes files); only the plain child streams them on fd 3.
    const streams = this.options.child === undefined;
    const child = spawn(command, args as string[], {
      stdio: ["ignore", "ignore", "pipe", streams ? "pipe" : "ignore", "ipc"],
    });
    this.child = child;
    child.stderr!.setEncoding("utf8").on("data", (text: string) => {
      this.stderrTail = (this.stderrTail + text).slice(-4096);
    });
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    if (streams) {
      const stream = child.stdio[3] as Readable;
      this.streamEnded = new Promise((resolve) => stream.once("close", () => resolve()));
      this.decoder = this.decoderFor();
      stream.on("data", (chunk: Buffer) => this.decode(chunk));
    }

    await new Promise<void>((resolve, reject) => {
      const onMessage = (message: ChildMessage): void => {
        if (message.type === "ready") {
          this.linkType = message.linkType;
          this.pid = message.pid;
          this.packetIo = message.packetIo;
          this.fanoutGroup = message.fanoutGroup;
          this.openedAtUs = message.openedAtUs;
          cleanup();
          resolve();
        } else if (message.type === "error") {
          cleanup();
          reject(CaptureError.fromJSON(message.error));
        } else if (message.type === "warning") {
          this.emit("warning", message.message); // e.g. why node_pcap is used instead of the addon
        }
      };
      const onExit = (code: number | null, signal: string | null): void => {
        cleanup();
        reject(this.childExited(code, signal));
      };
      const cleanup = (): void => {
        child.off("message", onMessage);
        child.off("exit", onExit);
      };
      child.on("message", onMessage);
      child.once("exit", onExit);
    });
    child.on("message", (message: ChildMessage) => this.onMessage(message));
    child.once("exit", (code, signal) => {
      if (!this.stopping && this.lostError === null) this.emit("error", this.childExited(code, signal));
    });
  }

  /** Why the capture broke while running, or null (see the "lost" event). */
  get lost(): CaptureError | null {
    return this.lostError;
  }

  /** Counters so far (final ones after stop). */
  async stats(): Promise<CaptureStats> {
    if (this.finalStats) return this.finalStats;
    const child = this.child;
    if (!child?.connected) return emptyStats();
    const id = ++this.requestId;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      child.send({ type: "stats", id } satisfies ParentMessage);
    });
  }

  /** A successor starts reading: the frames stamped at or after `atUs` are its own. */
  startFrom(atUs: number): void {
    if (!this.options.successor) throw new Error(`capture ${this.name} was not started as a successor`);
    this.child?.send({ type: "start-from", atUs } satisfies ParentMessage);
  }

  /**
   * A predecessor's side of a gapless restart: from now on the child keeps only the frames stamped before
   * the cut, `atUs` or, if it has passed on frames stamped later already, just after the latest of them.
   * Resolves with the cut taken (`atUs` if the child is gone).
   */
  cut(atUs: number): Promise<number> {
    const child = this.child;
    if (!child?.connected || this.stopping) return Promise.resolve(atUs);
    return new Promise((resolve) => {
      const onMessage = (message: ChildMessage): void => {
        if (message.type !== "cut") return;
        child.off("message", onMessage).off("exit", onExit);
        resolve(message.atUs);
      };
      const onExit = (): void => {
        child.off("message", onMessage);
        resolve(atUs);
      };
      child.on("message", onMessage).once("exit", onExit);
      child.send({ type: "cut", atUs } satisfies ParentMessage);
    });
  }

  /**
   * Stops the capture: the child waits out libpcap's buffer timeout, hands over every packet it still
   * holds and exits. Resolves with the final counters once every packet has been emitted.
   */
  async stop(): Promise<CaptureStats> {
    const child = this.child;
    if (!child || this.stopping) {
      await this.exited;
      await this.streamEnded;
      return this.finalStats ?? emptyStats();
    }
    this.stopping = true;
    const killTimer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    if (child.connected) child.send({ type: "stop" } satisfies ParentMessage);
    else child.kill("SIGTERM");
    await this.exited;
    await this.streamEnded;
    clearTimeout(killTimer);
    try {
      this.decoder?.end();
    } catch (error) {
      this.emit("warning", `capture stream of ${this.name} ended short: ${(error as Error).message}`);
    }
    this.finalStats ??= emptyStats();
    return this.finalStats;
  }

  private onMessage(message: ChildMessage): void {
    if (message.type === "stats") {
      this.handover = message.handover;
      this.pending.get(message.id)?.(message.stats);
      this.pending.delete(message.id);
    } else if (message.type === "stopped") {
      this.finalStats = message.stats;
      this.handover = message.handover;
    } else if (message.type === "lost") {
      this.lostError = CaptureError.fromJSON(message.error);
      this.emit("lost", this.lostError);
    } else if (message.type === "warning") {
      this.emit("warning", message.message);
    } else if (message.type === "output") {
      this.emit("output", message.payload);
    }
  }

  private decoderFor(): CaptureDecoder {
    const source = this.name;
    return new CaptureDecoder({
      packet: (buf, dataOffset, capturedLength, originalLength, seconds, nanoseconds) => {
        this.emit("packet", {
          seconds,
          nanoseconds,
          originalLength,
          data: buf.subarray(dataOffset, dataOffset + capturedLength),
          interfaceId: 0,
          linkType: this.linkType ?? 0,
          source,
        });
      },
    });
  }

  private decode(chunk: Buffer): void {
    try {
      this.decoder!.push(chunk);
    } catch (error) {
      this.emit("warning", `capture stream of ${this.name} is damaged: ${(error as Error).message}`);
    }
  }

  private childExited(code: number | null, signal: string | null): CaptureError {
    const how = signal ? `signal ${signal}` : `code ${code}`;
    const detail = this.stderrTail.trim();
    return new CaptureError(
      "child-exited",
      `capture child for ${this.name} exited with ${how}${detail ? `: ${detail}` : ""}`,
      { code, signal, stderr: detail },
    );
  }
}
