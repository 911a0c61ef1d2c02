// What the inject loop sends through: the packet-io addon's AF_PACKET socket (a whole run of a batch
// per call) when it is built, or a node_pcap handle (one frame per call) when it is not or when asked.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { type NativeSession, pcapBinding, pcapLinkType } from "@sluice/capture/binding";
import type { NativeInjectSocket, PacketIoMode, RecordScanner } from "@sluice/packet-io";
import { LinkType } from "@sluice/pcap-format";
import { copyBytes } from "./batch-builder.js";
import { ReplayError } from "./errors.js";

const lazyRequire = createRequire(import.meta.url);

/** BPF that no frame passes: the node_pcap handle captures nothing, so its ring stays empty. */
export const MATCH_NOTHING = "less 1";

/** Which packet I/O a handle uses. */
export type PacketIoKind = "native" | "pcap";

/** What sysfs says about an interface (inside the child's namespace). */
export interface InterfaceState {
  exists: boolean;
  up: boolean;
  operstate: string;
  mtu: number;
  /** ARPHRD_ETHER: frames carry a 14-byte Ethernet header. */
  ethernet: boolean;
  /** ARPHRD_ type number (/sys/class/net/IF/type); -1 when missing. */
  type: number;
}

/** Reads /sys/class/net/IF: whether it exists, is administratively up, its MTU and type. */
export function interfaceState(name: string): InterfaceState {
  const sys = `/sys/class/net/${name}`;
  try {
    const flags = Number.parseInt(readFileSync(`${sys}/flags`, "utf8").trim(), 16);
    const type = Number(readFileSync(`${sys}/type`, "utf8").trim());
    return {
      exists: true,
      up: (flags & 1) === 1,
      operstate: readFileSync(`${sys}/operstate`, "utf8").trim(),
      mtu: Number(readFileSync(`${sys}/mtu`, "utf8").trim()),
      ethernet: type === 1,
      type,
    };
  } catch {
    return { exists: false, up: false, operstate: "missing", mtu: 0, ethernet: false, type: -1 };
  }
}

/**
 * The interface takes frames again after a failed send: administratively up, its operstate "up" (or
 * "unknown", for links without a carrier), and a queueing discipline of its own attached. Between
 * `ip link set up` and the kernel's carrier-on event the interface has the noop qdisc, which drops every
 * frame without an error: a frame sent then is lost although its send succeeded.
 */
export function linkReady(name: string): boolean {
  const state = interfaceState(name);
  if (!state.up || (state.operstate !== "up" && state.operstate !== "unknown")) return false;
  // Without tc (or when it fails) the qdisc is not known: only the operstate decides.
  // node:child_process (and with it net and dgram) is loaded here, after a failed send, not at start-up.
  const { spawnSync } = lazyRequire("node:child_process") as typeof import("node:child_process");
  const tc = spawnSync("tc", ["qdisc", "show", "dev", name], { encoding: "utf8", timeout: 2000 });
  return !/^qdisc noop /m.test(tc.stdout ?? "");
}

/** An open inject handle on one interface. */
export interface InjectHandle {
  readonly kind: PacketIoKind;
  /** LINKTYPE_ of the frames the interface takes; -1 when none we can write. */
  readonly linkType: number;
  /**
   * Sends frames `bytes[positions[2i], +positions[2i + 1])` for i in [first, first + count); returns how
   * many went. Fewer than `count`: the kernel's queue stayed full (the caller yields and calls again) or
   * the next frame was refused (the next call throws its error).
   */
  send(bytes: Uint8Array, positions: Uint32Array, first: number, count: number): number;
  /** The addon only: finds a chunk's plain records in one call (see RecordScanner). */
  readonly scanner?: RecordScanner;
  /** The addon only: a buffer for chunks, in huge pages where the kernel has them (see hugeBuffer). */
  readonly allocate?: (size: number) => Buffer;
  /** Sends one frame from wherever it is (node_pcap's topspeed path sends straight from the decoder). */
  inject(frame: Uint8Array): void;
  /** Closes the handle (node_pcap's cannot be: it lives until the process exits). */
  close(): void;
}

/** How to open a handle. */
export interface InjectHandleOptions {
  /**
   * The addon when it loads ("auto"), the addon or fail ("native"), or node_pcap ("pcap"). Unset:
   * SLUICE_PACKET_IO, read by @sluice/packet-io (with the package not installed, node_pcap).
   */
  packetIo?: PacketIoMode | undefined;
  qdiscBypass: boolean;
  bufferTimeoutMs: number;
}

/** A handle, and why it is not the addon's when it fell back. */
export interface OpenedHandle {
  handle: InjectHandle;
  /** Why node_pcap is used although the addon was allowed; null when it was not a fallback. */
  fallback: string | null;
}

/** Opens `name` for injecting; rejects with ReplayError for what the kernel or libpcap said. */
export async function openInjectHandle(name: string, options: InjectHandleOptions): Promise<OpenedHandle> {
  const state = interfaceState(name);
  if (!state.exists) {
    throw new ReplayError("no-such-interface", `interface "${name}" does not exist`, { interface: name });
  }
  let fallback: string | null = null;
  if (options.packetIo !== "pcap") {
    const addon = await loadPacketIo();
    const mode = options.packetIo ?? addon.mode;
    if (mode !== "pcap") {
      if (addon.socket) {
        const handle = NativeInjectHandle.open(addon, name, state, options.qdiscBypass);
        return { handle, fallback };
      }
      if (mode === "native") {
        throw new ReplayError(
          "bad-option",
          `packet I/O "native" was asked for, but the packet-io addon cannot be used: ${addon.reason}`,
          { option: "packetIo", value: "native", reason: addon.reason },
        );
      }
      fallback = addon.reason;
    }
  }
  return { handle: PcapInjectHandle.open(name, options.bufferTimeoutMs), fallback };
}

type SocketClass = new (options: { interface: string; qdiscBypass?: boolean }) => NativeInjectSocket;

/** The addon's socket class or why it cannot be had, and the mode SLUICE_PACKET_IO asks for. */
type PacketIoStatus = { mode: PacketIoMode } & (
  | { socket: SocketClass; scanner: RecordScanner; allocate: (size: number) => Buffer; reason: null }
  | { socket: null; reason: string }
);

let packetIo: Promise<PacketIoStatus> | null = null;

/** Loads @sluice/packet-io (an optional dependency: it may be missing) and its addon, once. */
function loadPacketIo(): Promise<PacketIoStatus> {
  packetIo ??= import("@sluice/packet-io").then(
    (module): PacketIoStatus => {
      const mode = module.packetIoMode();
      const status = module.loadAddon();
      return status.addon
        ? {
            mode,
            socket: status.addon.InjectSocket,
            scanner: new module.RecordScanner(status.addon),
            allocate: status.addon.hugeBuffer,
            reason: null,
          }
        : { mode, socket: null, reason: status.reason };
    },
    (error: unknown): PacketIoStatus => ({
      mode: "auto",
      socket: null,
      reason: `@sluice/packet-io is not installed (${error instanceof Error ? error.message.split("\n")[0] : String(error)})`,
    }),
  );
  return packetIo;
}

/** ARPHRD_ types the addon's socket takes frames of, and the LINKTYPE_ of those frames. */
function linkTypeOfArphrd(type: number): number {
  // Ethernet and loopback take Ethernet frames; IP tunnels, PPP and tun devices take bare IP packets.
  if (type === 1 || type === 772) return LinkType.ETHERNET;
  if ([512, 768, 769, 776, 778, 823, 65534].includes(type)) return LinkType.RAW;
  return -1;
}

/** Fields of a failed send the loop needs to decide what to do. */
export interface SendFault {
  /** The kernel said the frame is too long for the interface (EMSGSIZE). */
  tooBig: boolean;
  /** errno name, when the addon had one. */
  errno: string | null;
  message: string;
}

/** What a send's error says (the addon's carry a reason and an errno; node_pcap's only a message). */
export function sendFault(error: unknown): SendFault {
  const message = error instanceof Error ? error.message : String(error);
  const native = error as { reason?: unknown; errno?: unknown };
  return {
    tooBig: native.reason === "frame-too-big",
    errno: typeof native.errno === "string" ? native.errno : null,
    message,
  };
}

/** The packet-io addon's AF_PACKET socket: a whole run of a batch per call. */
class NativeInjectHandle implements InjectHandle {
  readonly kind = "native";
  private readonly one = new Uint32Array(2);

  private constructor(
    private readonly socket: NativeInjectSocket,
    readonly scanner: RecordScanner,
    readonly allocate: (size: number) => Buffer,
    readonly linkType: number,
  ) {
    this.send = socket.send.bind(socket);
  }

  static open(
    addon: Extract<PacketIoStatus, { reason: null }>,
    name: string,
    state: InterfaceState,
    qdiscBypass: boolean,
  ): InjectHandle {
    try {
      return new NativeInjectHandle(
        new addon.socket({ interface: name, qdiscBypass }),
        addon.scanner,
        addon.allocate,
        linkTypeOfArphrd(state.type),
      );
    } catch (error) {
      throw nativeOpenError(name, error);
    }
  }

  // The addon's own methods, bound once: a paced send allocates nothing per call.
  readonly send: NativeInjectSocket["send"];

  inject(frame: Uint8Array): void {
    this.one[1] = frame.length;
    if (this.socket.send(frame, this.one, 0, 1) !== 1) throw new Error("the interface's queue stayed full");
  }

  close(): void {
    this.socket.close();
  }
}

function nativeOpenError(name: string, error: unknown): ReplayError {
  const { reason, errno, message } = error as { reason?: string; errno?: string; message?: string };
  const detail = { interface: name, errno: errno ?? null };
  if (reason === "permission-denied") {
    return new ReplayError("permission-denied", `injecting on "${name}": ${message}`, detail);
  }
  if (reason === "no-such-interface" || reason === "interface-down") {
    return new ReplayError(reason, message ?? `interface "${name}": ${reason}`, detail);
  }
  return new ReplayError("inject-failed", `cannot open "${name}" for injecting: ${message}`, detail, {
    cause: error,
  });
}

/** Largest frame a node_pcap handle takes through its scratch copy (the decoder's record limit, plus room). */
const MAX_FRAME = 256 * 1024 + 64;

/**
 * A libpcap handle of node_pcap's, used only to inject. node_pcap's open_live also captures: a filter
 * that matches nothing and never polling keep the capture side silent, so no JS runs per packet. The
 * handle cannot be closed (session.close() only breaks a capture loop): the inject child exits to close
 * it, and in process it lives as long as the process.
 */
class PcapInjectHandle implements InjectHandle {
  readonly kind = "pcap";
  private readonly scratch = Buffer.allocUnsafe(MAX_FRAME);
  // One view of `scratch` per frame length, made once: sending allocates nothing per frame, so the
  // garbage collector has no reason to pause between paced sends.
  private readonly views: (Buffer | undefined)[] = [];

  private constructor(
    private readonly session: NativeSession,
    readonly linkType: number,
  ) {}

  static open(name: string, bufferTimeoutMs: number): InjectHandle {
    const session = new (pcapBinding().PcapSession)();
    let linkTypeName: string;
    try {
      linkTypeName = session.open_live(
        name,
        MATCH_NOTHING,
        1024 * 1024,
        128,
        "",
        () => {},
        false,
        Math.max(1, bufferTimeoutMs),
        () => {},
        false,
      );
    } catch (error) {
      throw pcapOpenError(name, error);
    }
    return new PcapInjectHandle(session, pcapLinkType(linkTypeName) ?? -1);
  }

  send(bytes: Uint8Array, positions: Uint32Array, first: number, count: number): number {
    for (let i = first; i < first + count; i++) {
      try {
        this.injectRange(bytes, positions[2 * i]!, positions[2 * i + 1]!);
      } catch (error) {
        if (i > first) return i - first;
        throw error;
      }
    }
    return count;
  }

  inject(frame: Uint8Array): void {
    this.session.inject(frame);
  }

  /** Sends the frame at `buf[start, start + length)` through a reused view (see `views`). */
  private injectRange(buf: Uint8Array, start: number, length: number): void {
    let view = this.views[length];
    if (view === undefined) {
      view = this.scratch.subarray(0, length);
      this.views[length] = view;
    }
    copyBytes(buf, this.scratch, 0, start, length);
    this.session.inject(view);
  }

  close(): void {}
}

function pcapOpenError(name: string, error: unknown): ReplayError {
  const libpcap = error instanceof Error ? error.message : String(error);
  if (/not permitted|permission/i.test(libpcap)) {
    return new ReplayError(
      "permission-denied",
      `injecting on "${name}" needs CAP_NET_RAW: run as root or grant it (setcap cap_net_raw+eip $(command -v node)); libpcap said: ${libpcap}`,
      { interface: name, libpcap },
    );
  }
  if (/no such device|doesn't exist|does not exist/i.test(libpcap)) {
    return new ReplayError("no-such-interface", `interface "${name}" does not exist: ${libpcap}`, {
      interface: name,
      libpcap,
    });
  }
  if (/not up|network is down/i.test(libpcap)) {
    return new ReplayError("interface-down", `interface "${name}" is down: ${libpcap}`, {
      interface: name,
      libpcap,
    });
  }
  return new ReplayError("inject-failed", `libpcap could not open "${name}" for injecting: ${libpcap}`, {
    interface: name,
    libpcap,
  });
}
