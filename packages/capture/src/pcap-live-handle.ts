// libpcap through node_pcap's native binding (binding.ts), used only inside a capture child process: the
// fallback when the packet-io addon is not built. The binding calls back once per packet with a 16-byte
// pcap record header (host byte order, microseconds) and the packet in two reused buffers.
import { readFileSync } from "node:fs";
import { type NativeSession, pcapBinding, pcapLinkType } from "./binding.js";
import { CaptureError, type CaptureErrorReason } from "./errors.js";
import type { HandleStats, LiveHandle, LiveOptions, PacketSink } from "./live-handle.js";
import { openError, reportLost } from "./open-errors.js";
import { compileFilter } from "./preflight.js";

function linkTypeOf(name: string): number {
  const linkType = pcapLinkType(name);
  if (linkType === null)
    throw new CaptureError("open-failed", `libpcap reported an unknown link type: ${name}`);
  return linkType;
}

/** Names of the interfaces libpcap can capture on. */
export function availableInterfaces(): string[] {
  try {
    return pcapBinding()
      .findalldevs()
      .map((d) => d.name);
  } catch {
    return [];
  }
}

// Compiles the filter against a one-header Ethernet capture, to tell a bad filter from a bad interface
// before the interface is opened (node_pcap reports both through one exception).
function checkFilterSyntax(filter: string): void {
  compileFilter(filter);
}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

// Sorts node_pcap's open errors into reasons by libpcap's words (node_pcap gives no status code).
function reasonOf(options: LiveOptions, libpcap: string): CaptureErrorReason {
  if (/not permitted|permission/i.test(libpcap)) return "permission-denied";
  if (/no such device|doesn't exist|does not exist/i.test(libpcap)) return "no-such-interface";
  if (/not up|network is down/i.test(libpcap)) return "interface-down";
  if (options.filter.trim() !== "" && /filter|syntax|expression|qualifier|unknown/i.test(libpcap)) {
    return "bad-filter";
  }
  return "open-failed";
}

/**
 * The filter with the direction added. libpcap's own `inbound`/`outbound` cannot be used: libpcap 1.10
 * re-filters the ring's first block in userland, where they match nothing (libpcap issue #1482), so the
 * first packets after start would be lost; and node_pcap does not expose pcap_setdirection. Outbound
 * frames on Ethernet carry the interface's own source MAC; on "any" the cooked header says "outgoing".
 */
export function withDirection(options: Pick<LiveOptions, "interface" | "filter" | "direction">): string {
  const { filter, direction } = options;
  if (direction === "inout") return filter;
  let outbound: string;
  if (options.interface === "any") {
    outbound = "link[0:2] == 4"; // LINUX_SLL packet type PACKET_OUTGOING
  } else {
    const sys = `/sys/class/net/${options.interface}`;
    let type = "";
    let mac = "";
    try {
      type = readFileSync(`${sys}/type`, "utf8").trim();
      mac = readFileSync(`${sys}/address`, "utf8").trim();
    } catch {
      // Missing interface: opening it reports that with the list of those that exist.
      return filter;
    }
    if (type !== "1" || !/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(mac) || mac === "00:00:00:00:00:00") {
      throw new CaptureError(
        "bad-option",
        `direction "${direction}" needs an Ethernet interface with a MAC address or "any"; ${options.interface} is ARPHRD type ${type} with address ${mac || "none"}`,
        { option: "direction", interface: options.interface },
      );
    }
    outbound = `ether src ${mac}`;
  }
  const qualifier = direction === "out" ? outbound : `not (${outbound})`;
  return filter === "" ? qualifier : `(${filter}) and ${qualifier}`;
}

/** A live capture through node_pcap: one JavaScript call per packet. */
export class PcapLiveHandle implements LiveHandle {
  readonly linkType: number;
  readonly snaplen: number;
  readonly packetIo = "pcap" as const;
  readonly fanoutGroup = null;
  private readonly session: NativeSession;
  private readonly header = Buffer.alloc(16);
  private readonly data: Buffer;
  private sink: PacketSink | null = null;
  private onLost: ((error: CaptureError) => void) | null = null;
  private lost = false;
  private lastStats: HandleStats = { received: 0, droppedByKernel: 0, droppedByInterface: 0 };
  private device = "";

  private constructor(session: NativeSession, linkTypeName: string, snaplen: number, data: Buffer) {
    this.session = session;
    this.linkType = linkTypeOf(linkTypeName);
    this.snaplen = snaplen;
    this.data = data;
  }

  /** Opens the interface. Never immediate mode: a buffer timeout keeps libpcap's large ring in use. */
  static open(options: LiveOptions, onWarning: (message: string) => void = () => {}): PcapLiveHandle {
    checkFilterSyntax(options.filter);
    const filter = withDirection(options);
    const session = new (pcapBinding().PcapSession)();
    const data = Buffer.alloc(options.snaplen);
    let handle: PcapLiveHandle | null = null;
    const ready = (): void => handle?.sink?.packet(handle.header, data);
    let linkTypeName: string;
    try {
      linkTypeName = session.open_live(
        options.interface,
        filter,
        options.bufferSize,
        options.snaplen,
        "",
        ready,
        false,
        options.bufferTimeoutMs,
        onWarning,
        options.promiscuous,
      );
    } catch (error) {
      const libpcap = messageOf(error);
      throw openError(reasonOf(options, libpcap), options, libpcap, availableInterfaces);
    }
    handle = new PcapLiveHandle(session, linkTypeName, options.snaplen, data);
    handle.device = options.interface;
    return handle;
  }

  start(sink: PacketSink, onLost: (error: CaptureError) => void): void {
    this.sink = sink;
    this.onLost = onLost;
    this.session.read_callback = () => this.drain();
    this.session.start_polling();
    this.drain();
  }

  /**
   * Delivers every packet libpcap has ready now (the binding loops until the ring is empty). node_pcap
   * reports a broken capture only as a negative count, without libpcap's words: the interface's absence
   * from /sys says which.
   */
  drain(): void {
    if (this.lost) return;
    if (this.session.dispatch(this.data, this.header) >= 0) return;
    this.lost = true;
    const libpcap = "pcap_dispatch failed (node_pcap passes no message on)";
    reportLost(this.device, libpcap, undefined, (lost) => this.onLost?.(lost));
  }

  stats(): HandleStats {
    if (this.lost) return this.lastStats;
    const s = this.session.stats();
    this.lastStats = { received: s.ps_recv, droppedByKernel: s.ps_drop, droppedByInterface: s.ps_ifdrop };
    return this.lastStats;
  }

  close(): void {
    // node_pcap's close() only breaks the loop; the child exits instead.
  }
}
