import { EventEmitter } from "node:events";
import type { Readable } from "node:stream";
import { MAX_CAPTURE_LENGTH } from "@sluice/pcap-format";
import { CaptureDecoder } from "@sluice/pcap-format/low-level";
import { type ChildExit, NodeChild } from "./child-process.js";
import type { ChildConfig, ChildMessage, ChildOutputConfig, ParentMessage } from "./child-protocol.js";
import type { MakeOutput } from "./child-runtime.js";
import { childScriptPath } from "./child-script.js";
import type { HandoverCounts } from "./cutover.js";
import { CaptureError } from "./errors.js";
import { type CaptureChild, InProcessChild } from "./in-process-child.js";
import type { FanoutMode, LiveOptions, PacketIoMode } from "./live-handle.js";
import { loadPacketIo } from "./native-live-handle.js";
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
   * captures and rotates in one process. `inProcess` builds the same output in this process instead, with
   * no child at all, where that can be done: the packet-io addon loads (and packetIo is not "pcap"), and
   * neither `netns`, `user` nor `group` is set (they would apply to this whole process). For a process
   * that does nothing but capture: it saves a Node start-up, and shares its event loop with the capture.
   */
  child?: { script: string; output: ChildOutputConfig; inProcess?: MakeOutput };
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
 * cleanly in-process; see `child.inProcess` for when the capture may run in this process). Packets arrive as "packet" events carrying the source label; start() resolves
 * once the interface is open and rejects with a CaptureError naming what went wrong.
 */
export class InterfaceSource extends EventEmitter<InterfaceSourceEvents> {
  readonly name: string;
  /** LINKTYPE_ of the packets, once started. */
  linkType: number | null = null;
  /** Process id of the capture child (this process's when it captures in-process), once started. */
  pid: number | null = null;
  /** The capture runs in this process (see the `child.inProcess` option), once started. */
  inProcess = false;
  /** Which packet I/O the child uses, once started: the packet-io addon or node_pcap. */
  packetIo: "native" | "pcap" | null = null;
  /** The PACKET_FANOUT group the child joined, once started (null without fanout). */
  fanoutGroup: number | null = null;
  /** A time (µs since the epoch) by which the capture was open with its filter set, once started. */
  openedAtUs: number | null = null;
  /** Frames left to a predecessor or successor at a cut: as of the last stats() reply, final once stopped. */
  handover: HandoverCounts = { beforeCut: 0, afterCut: 0 };
  private readonly config: ChildConfig;
  private child: CaptureChild | null = null;
  private decoder: CaptureDecoder | null = null;
  private finalStats: CaptureStats | null = null;
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

  /** Opens the interface in a child process (or in this one); resolves when it captures. */
  async start(): Promise<void> {
    if (this.child) throw new Error(`capture ${this.name} already started`);
    // A custom child keeps its packets (it writes files); only the plain child streams them on fd 3.
    const streams = this.options.child === undefined;
    const makeOutput = this.inProcessOutput();
    this.inProcess = makeOutput !== null;
    const spawned = makeOutput
      ? null
      : new NodeChild<ParentMessage, ChildMessage>({
          script: this.options.child?.script ?? childScriptPath(),
          config: this.config,
          ...(this.options.netns !== undefined && { netns: this.options.netns }),
          extraFds: [streams ? "pipe" : "ignore"],
        });
    const child: CaptureChild = spawned ?? new InProcessChild(this.config, makeOutput!);
    this.child = child;
    this.exited = child.exited.then(() => {});
    if (streams && spawned) {
      const stream = spawned.process.stdio[3] as Readable;
      this.streamEnded = new Promise((resolve) => stream.once("close", () => resolve()));
      this.decoder = this.decoderFor();
      stream.on("data", (chunk: Buffer) => this.decode(chunk));
    }

    const ready = await child.ready(
      (message) => {
        if (message.type === "error") throw CaptureError.fromJSON(message.error);
        // e.g. why node_pcap is used instead of the addon
        if (message.type === "warning") this.emit("warning", message.message);
        return message.type === "ready" ? message : undefined;
      },
      (how) => this.childExited(how),
    );
    this.linkType = ready.linkType;
    this.pid = ready.pid;
    this.packetIo = ready.packetIo;
    this.fanoutGroup = ready.fanoutGroup;
    this.openedAtUs = ready.openedAtUs;
    child.onMessage((message) => this.onMessage(message));
    void child.exited.then((how) => {
      if (!this.stopping && this.lostError === null) this.emit("error", this.childExited(how));
    });
  }

  // The output to build in this process, when the options ask for it and it can be done there.
  private inProcessOutput(): MakeOutput | null {
    const { child, netns, user, group } = this.options;
    if (!child?.inProcess || netns !== undefined || user !== undefined || group !== undefined) return null;
    const packetIo = loadPacketIo();
    const mode = this.config.live.packetIo ?? packetIo.mode;
    return mode !== "pcap" && packetIo.addon !== null ? child.inProcess : null;
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
      child.send({ type: "stats", id });
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
    // The child's reply, or `atUs` when it exits first.
    const reply = child
      .ready(
        (message) => (message.type === "cut" ? message.atUs : undefined),
        () => new Error("exited"),
      )
      .catch(() => atUs);
    child.send({ type: "cut", atUs } satisfies ParentMessage);
    return reply;
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
    await child.stop({ type: "stop" }, 15_000);
    await this.streamEnded;
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

  private childExited({ code, signal }: ChildExit): CaptureError {
    const how = signal ? `signal ${signal}` : `code ${code}`;
    const detail = this.child!.stderr.trim();
    return new CaptureError(
      "child-exited",
      `capture child for ${this.name} exited with ${how}${detail ? `: ${detail}` : ""}`,
      { code, signal, stderr: detail },
    );
  }
}
