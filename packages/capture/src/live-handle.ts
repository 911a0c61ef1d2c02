// libpcap through node_pcap's native binding (binding.ts), used only inside a capture child process.
// The binding calls back once per packet with a 16-byte pcap record header (host byte order,
// microseconds) and the packet in two reused buffers.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type NativeSession, pcapBinding, pcapLinkType } from "./binding.js";
import { CaptureError } from "./errors.js";

/** What a live capture is opened with. */
export interface LiveOptions {
  interface: string;
  /** The user's BPF filter. */
  filter: string;
  direction: "in" | "out" | "inout";
  snaplen: number;
  promiscuous: boolean;
  bufferSize: number;
  bufferTimeoutMs: number;
}

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
  if (filter.trim() === "") return;
  const dir = mkdtempSync(join(tmpdir(), "sluice-bpf-"));
  try {
    const file = join(dir, "empty.pcap");
    const header = Buffer.alloc(24);
    header.writeUInt32LE(0xa1b2c3d4, 0);
    header.writeUInt16LE(2, 4);
    header.writeUInt16LE(4, 6);
    header.writeUInt32LE(65535, 16);
    header.writeUInt32LE(1, 20);
    writeFileSync(file, header);
    new (pcapBinding().PcapSession)().open_offline(
      file,
      filter,
      0,
      65535,
      "",
      () => {},
      false,
      0,
      () => {},
      false,
    );
  } catch (error) {
    throw badFilter(filter, error);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function badFilter(filter: string, error: unknown): CaptureError {
  const libpcap = error instanceof Error ? error.message : String(error);
  return new CaptureError("bad-filter", `BPF filter "${filter}" does not compile: ${libpcap}`, {
    filter,
    libpcap,
  });
}

// Sorts libpcap's open errors into reasons; the message says what to do about each.
function openError(options: LiveOptions, error: unknown): CaptureError {
  const libpcap = error instanceof Error ? error.message : String(error);
  const name = options.interface;
  if (/not permitted|permission/i.test(libpcap)) {
    return new CaptureError(
      "permission-denied",
      `capturing on "${name}" needs CAP_NET_RAW (and CAP_NET_ADMIN for promiscuous mode): run as root or grant them (setcap cap_net_raw,cap_net_admin+eip $(command -v node)); libpcap said: ${libpcap}`,
      { interface: name, libpcap },
    );
  }
  if (/no such device|doesn't exist|does not exist/i.test(libpcap)) {
    const available = availableInterfaces();
    return new CaptureError(
      "no-such-interface",
      `interface "${name}" does not exist; available: ${available.join(", ") || "none"}`,
      { interface: name, available, libpcap },
    );
  }
  if (/not up|network is down/i.test(libpcap)) {
    return new CaptureError("interface-down", `interface "${name}" is down: ${libpcap}`, {
      interface: name,
      libpcap,
    });
  }
  if (options.filter.trim() !== "" && /filter|syntax|expression|qualifier|unknown/i.test(libpcap)) {
    return badFilter(options.filter, error);
  }
  return new CaptureError("open-failed", `libpcap could not open "${name}": ${libpcap}`, {
    interface: name,
    libpcap,
  });
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

/** An open live capture. Packets reach `onPacket` as (header, data) in buffers reused for the next one. */
export class LiveHandle {
  readonly linkType: number;
  readonly snaplen: number;
  private readonly session: NativeSession;
  private readonly header = Buffer.alloc(16);
  private readonly data: Buffer;
  private onPacket: (header: Buffer, data: Buffer) => void = () => {};

  private constructor(session: NativeSession, linkTypeName: string, snaplen: number, data: Buffer) {
    this.session = session;
    this.linkType = linkTypeOf(linkTypeName);
    this.snaplen = snaplen;
    this.data = data;
  }

  /** Opens the interface. Never immediate mode: a buffer timeout keeps libpcap's large ring in use. */
  static open(options: LiveOptions, onWarning: (message: string) => void = () => {}): LiveHandle {
    checkFilterSyntax(options.filter);
    const filter = withDirection(options);
    const session = new (pcapBinding().PcapSession)();
    const data = Buffer.alloc(options.snaplen);
    let handle: LiveHandle | null = null;
    const ready = (): void => handle?.onPacket(handle.header, data);
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
      throw openError(options, error);
    }
    handle = new LiveHandle(session, linkTypeName, options.snaplen, data);
    return handle;
  }

  /** Starts delivering packets as libpcap's descriptor becomes readable. */
  start(onPacket: (header: Buffer, data: Buffer) => void): void {
    this.onPacket = onPacket;
    this.session.read_callback = () => {
      this.session.dispatch(this.data, this.header);
    };
    this.session.start_polling();
    this.drain();
  }

  /** Delivers every packet libpcap has ready now (the binding loops until the ring is empty). */
  drain(): void {
    this.session.dispatch(this.data, this.header);
  }

  /** libpcap's counters. */
  stats(): { received: number; droppedByKernel: number; droppedByInterface: number } {
    const s = this.session.stats();
    return { received: s.ps_recv, droppedByKernel: s.ps_drop, droppedByInterface: s.ps_ifdrop };
  }
}
