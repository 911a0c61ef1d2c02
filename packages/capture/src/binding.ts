// node_pcap's native binding, as Sluice uses it: capture (live-handle.ts) and the replayer's inject
// handle. Exported on its own as "@sluice/capture/binding", which loads nothing else of this package.
//
// The binding is used directly rather than through pcap.js: pcap.js allocates an object and emits an
// event for every packet, and its kick-start and close semantics do not fit a process that must drain
// its ring and exit.
import { createRequire } from "node:module";
import { LinkType } from "@sluice/pcap-format";

/** A libpcap handle of node_pcap's binding. */
export interface NativeSession {
  open_live(
    device: string,
    filter: string,
    bufferSize: number,
    snaplen: number,
    outfile: string,
    onPacket: () => void,
    monitor: boolean,
    bufferTimeoutMs: number,
    onWarning: (message: string) => void,
    promiscuous: boolean,
  ): string;
  open_offline(
    path: string,
    filter: string,
    bufferSize: number,
    snaplen: number,
    outfile: string,
    onPacket: () => void,
    monitor: boolean,
    bufferTimeoutMs: number,
    onWarning: (message: string) => void,
    promiscuous: boolean,
  ): string;
  dispatch(buffer: Buffer, header: Buffer): number;
  start_polling(): void;
  stats(): { ps_recv: number; ps_drop: number; ps_ifdrop: number };
  /** Sends one frame (pcap_inject); throws when libpcap's inject fails, without an errno. */
  inject(frame: Uint8Array): void;
  read_callback?: () => void;
}

/** node_pcap's native binding. */
export interface NativeBinding {
  PcapSession: new () => NativeSession;
  findalldevs(): { name: string }[];
  lib_version(): string;
}

const require = createRequire(import.meta.url);
let loaded: NativeBinding | null = null;

/** node_pcap's native binding, loaded on first use (it needs libpcap and a built addon). */
export function pcapBinding(): NativeBinding {
  loaded ??= require("pcap/build/Release/pcap_binding.node") as NativeBinding;
  return loaded;
}

const LINK_TYPES: Record<string, number> = {
  LINKTYPE_NULL: LinkType.NULL,
  LINKTYPE_ETHERNET: LinkType.ETHERNET,
  LINKTYPE_IEEE802_11_RADIO: LinkType.IEEE802_11_RADIOTAP,
  LINKTYPE_RAW: LinkType.RAW,
  LINKTYPE_LINUX_SLL: LinkType.LINUX_SLL,
};

/**
 * The LINKTYPE_ number of the link type name `open_live` returns, or null. node_pcap names five link
 * types and reports the DLT number of the others ("Unknown linktype 276"), which equals the LINKTYPE_
 * value for every DLT above 104.
 */
export function pcapLinkType(name: string): number | null {
  const known = LINK_TYPES[name];
  if (known !== undefined) return known;
  const match = /linktype (\d+)/i.exec(name);
  return match ? Number(match[1]) : null;
}
