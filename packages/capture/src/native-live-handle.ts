// A live capture through the packet-io addon: libpcap's pcap_dispatch runs in C and writes whole batches of
// pcap records into one buffer, and JavaScript runs once per batch, never per packet.
import { createRequire } from "node:module";
import type { NativeAddon, NativeCaptureHandle, NativeError } from "@sluice/packet-io";
import { CaptureError, type CaptureErrorReason } from "./errors.js";
import type { HandleStats, LiveHandle, LiveOptions, PacketIoMode, PacketSink } from "./live-handle.js";
import { openError, reportLost } from "./open-errors.js";
import { availableInterfaces } from "./pcap-live-handle.js";

/** The addon and the mode SLUICE_PACKET_IO asks for, or why the addon cannot be used. */
export interface PacketIoStatus {
  addon: NativeAddon | null;
  reason: string | null;
  mode: PacketIoMode;
}

const require = createRequire(import.meta.url);
let status: PacketIoStatus | null = null;

/** Loads @sluice/packet-io (an optional dependency) and its addon once; never throws. */
export function loadPacketIo(): PacketIoStatus {
  if (status) return status;
  try {
    const packetIo = require("@sluice/packet-io") as typeof import("@sluice/packet-io");
    status = { ...packetIo.loadAddon(), mode: packetIo.packetIoMode() };
  } catch (error) {
    const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
    // Without the package, SLUICE_PACKET_IO still decides whether that is an error.
    const env = process.env["SLUICE_PACKET_IO"];
    const mode = env === "native" || env === "pcap" ? env : "auto";
    status = { addon: null, reason: `@sluice/packet-io is not installed (${message})`, mode };
  }
  return status;
}

// Packets per batch: the offsets array holds one more entry than that.
const MAX_BATCH = 65536;
// Batches taken per readiness before the event loop gets a turn (timers, IPC, stop).
const BATCHES_PER_TURN = 16;

const NATIVE_REASONS: Partial<Record<NativeError["reason"], CaptureErrorReason>> = {
  "no-such-interface": "no-such-interface",
  "permission-denied": "permission-denied",
  "interface-down": "interface-down",
  "bad-filter": "bad-filter",
  "bad-option": "bad-option",
};

/** A live capture through the addon. */
export class NativeLiveHandle implements LiveHandle {
  readonly linkType: number;
  readonly snaplen: number;
  readonly packetIo = "native" as const;
  readonly fanoutGroup: number | null;
  private readonly buffer: Buffer;
  private readonly offsets = new Uint32Array(MAX_BATCH + 1);
  private sink: PacketSink | null = null;
  private onLost: ((error: CaptureError) => void) | null = null;
  private lost = false;
  private lastStats: HandleStats = { received: 0, droppedByKernel: 0, droppedByInterface: 0 };

  private constructor(
    private readonly handle: NativeCaptureHandle,
    private readonly device: string,
    allocate: (size: number) => Buffer,
  ) {
    this.linkType = handle.linkType;
    this.snaplen = handle.snaplen;
    this.fanoutGroup = handle.fanoutGroup;
    // A batch ends when less than one snaplen-sized record would fit: keep that a small part of the buffer.
    // In huge pages, and touched now: a fresh 2 MiB in 4 KiB pages costs 8 ms of page faults on first
    // touch here, which the first burst of traffic would otherwise wait out with a small ring filling.
    this.buffer = allocate(Math.max(2 << 20, 8 * (handle.snaplen + 16))).fill(0);
  }

  /** Opens the interface with libpcap (never immediate mode) and joins the fanout group if asked. */
  static open(addon: NativeAddon, options: LiveOptions): NativeLiveHandle {
    try {
      return new NativeLiveHandle(
        new addon.CaptureHandle({
          device: options.interface,
          filter: options.filter,
          snaplen: options.snaplen,
          promiscuous: options.promiscuous,
          bufferSize: options.bufferSize,
          timeoutMs: options.bufferTimeoutMs,
          direction: options.direction,
          ...(options.fanout && { fanout: options.fanout }),
        }),
        options.interface,
        addon.hugeBuffer,
      );
    } catch (error) {
      const native = error as NativeError;
      const reason = NATIVE_REASONS[native.reason] ?? "open-failed";
      if (reason === "bad-option") {
        throw new CaptureError("bad-option", native.message, { option: "fanout", errno: native.errno });
      }
      throw openError(reason, options, native.libpcap ?? native.message, availableInterfaces);
    }
  }

  start(sink: PacketSink, onLost: (error: CaptureError) => void): void {
    this.sink = sink;
    this.onLost = onLost;
    this.handle.poll(() => this.take(BATCHES_PER_TURN));
    this.take(BATCHES_PER_TURN);
  }

  drain(): void {
    this.take(Number.POSITIVE_INFINITY);
  }

  stats(): HandleStats {
    if (this.lost) return this.lastStats;
    this.lastStats = this.handle.stats();
    return this.lastStats;
  }

  close(): void {
    if (this.lost) return; // closed when it broke
    this.handle.close();
  }

  // Hands whole batches to the sink until the ring is empty or `limit` batches were taken; the poll
  // callback comes again while the descriptor stays readable.
  private take(limit: number): void {
    const sink = this.sink;
    if (sink === null || this.lost) return;
    for (let taken = 0; taken < limit; taken++) {
      let count: number;
      try {
        count = this.handle.dispatch(this.buffer, 0, this.offsets, MAX_BATCH);
      } catch (error) {
        this.fail(error as NativeError);
        return;
      }
      if (count === 0) return;
      if (sink.batch) sink.batch(this.buffer, this.offsets, count);
      else this.perPacket(sink, count);
    }
  }

  // The capture broke (the addon reports packets taken before the error first): stop polling the dead
  // descriptor, keep the last counters, and say why once.
  private fail(error: NativeError): void {
    this.lost = true;
    try {
      this.lastStats = this.handle.stats();
    } catch {
      // a dead socket may have no counters left: the last ones read stand
    }
    this.handle.close();
    reportLost(this.device, error.libpcap ?? error.message, error.errno, (lost) => this.onLost?.(lost));
  }

  // For a sink written for node_pcap's path only: one call per record.
  private perPacket(sink: PacketSink, count: number): void {
    for (let i = 0; i < count; i++) {
      const at = this.offsets[i]!;
      sink.packet(this.buffer.subarray(at, at + 16), this.buffer.subarray(at + 16, this.offsets[i + 1]));
    }
  }
}
