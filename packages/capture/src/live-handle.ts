// A live capture inside a capture child: the packet-io addon when it loads (whole batches per JavaScript
// call), node_pcap otherwise (one call per packet). Which one, and why, is decided here once per child.
import { CaptureError } from "./errors.js";
import { loadPacketIo, NativeLiveHandle } from "./native-live-handle.js";
import { PcapLiveHandle } from "./pcap-live-handle.js";

/** Which packet I/O a capture uses: the addon when it loads (auto), the addon or fail, or node_pcap. */
export type PacketIoMode = "auto" | "native" | "pcap";

/** PACKET_FANOUT modes; `hash` keeps both directions of a flow in one member. */
export type FanoutMode = "hash" | "lb" | "cpu" | "rollover" | "random" | "qm";

/** A PACKET_FANOUT group to join: `group: null` asks the kernel for an unused id. */
export interface FanoutOptions {
  group: number | null;
  mode: FanoutMode;
  defrag: boolean;
}

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
  /** Unset: SLUICE_PACKET_IO, else auto. */
  packetIo?: PacketIoMode;
  fanout?: FanoutOptions;
}

/** libpcap's counters. */
export interface HandleStats {
  received: number;
  droppedByKernel: number;
  droppedByInterface: number;
}

/**
 * Where a capture child puts packets. `batch` is the addon's path: records laid out as classic pcap
 * records (16-byte header in host byte order with microseconds, then the bytes) in
 * `buffer[offsets[0], offsets[count])`, record i starting at `offsets[i]`; the buffer is reused once it
 * returns. `packet` is node_pcap's path, one call per packet (and the addon's, for an output without
 * `batch`).
 */
export interface PacketSink {
  packet(header: Buffer, data: Buffer): void;
  batch?(buffer: Buffer, offsets: Uint32Array, count: number): void;
}

/** An open live capture, either kind. */
export interface LiveHandle {
  readonly linkType: number;
  readonly snaplen: number;
  /** Which packet I/O carries the packets. */
  readonly packetIo: "native" | "pcap";
  /** The PACKET_FANOUT group joined, or null. */
  readonly fanoutGroup: number | null;
  /**
   * Starts handing packets to `sink` as libpcap's descriptor becomes readable. If the capture breaks
   * (the interface was deleted: libpcap's "The interface disappeared", ENODEV), `onLost` is called once
   * with a CaptureError saying why, after every packet taken before it went to `sink`.
   */
  start(sink: PacketSink, onLost: (error: CaptureError) => void): void;
  /** Hands over every packet libpcap has ready now. */
  drain(): void;
  stats(): HandleStats;
  /** Closes the handle (node_pcap's cannot be closed: its child exits instead). */
  close(): void;
}

/**
 * Opens the capture with the packet I/O the options (or SLUICE_PACKET_IO) ask for. In auto mode a missing
 * addon means node_pcap and one warning saying why; `native` without the addon, and fanout without it,
 * are errors.
 */
export function openLiveHandle(options: LiveOptions, onWarning: (message: string) => void): LiveHandle {
  const packetIo = loadPacketIo();
  const mode = options.packetIo ?? packetIo.mode;
  if (mode !== "pcap") {
    if (packetIo.addon !== null) return NativeLiveHandle.open(packetIo.addon, options);
    if (mode === "native" || options.fanout) {
      const why = mode === "native" ? "packetIo is native" : "fanout workers need it";
      throw new CaptureError(
        "packet-io-unavailable",
        `the packet-io addon is needed (${why}) but cannot be used: ${packetIo.reason}`,
        { reason: packetIo.reason },
      );
    }
    onWarning(`capturing with node_pcap, one JavaScript call per packet: ${packetIo.reason}`);
  } else if (options.fanout) {
    throw new CaptureError("bad-option", "fanout workers need the packet-io addon, and packetIo is pcap", {
      option: "packetIo",
    });
  }
  return PcapLiveHandle.open(options, onWarning);
}
