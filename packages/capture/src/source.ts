import type { PacketRecord } from "@sluice/pcap-format";

/** A packet from a capture source: a pcap-format record plus the label of the source it came from. */
export interface SourcePacket extends PacketRecord {
  /** Source label, safe in file names: the configured name, and for sockets the peer and a sequence. */
  source: string;
}

/** Counters every live source keeps; all are totals since start. */
export interface CaptureStats {
  /** Packets the kernel handed to the capture (libpcap ps_recv). */
  received: number;
  /** Packets dropped because the capture buffer was full (libpcap ps_drop). */
  droppedByKernel: number;
  /** Packets the interface or its driver dropped (libpcap ps_ifdrop; 0 where unknown). */
  droppedByInterface: number;
  /**
   * Packets dropped because whoever consumes them could not keep up: live capture cannot be paused, so
   * they are counted instead of letting the kernel ring fill.
   */
  droppedByConsumer: number;
  /** Packets delivered: taken from libpcap, whether or not the consumer kept them. */
  captured: number;
  /**
   * Packets the consumer kept (written to files, or handed on): `captured` is always `written` plus
   * `droppedByConsumer`.
   */
  written: number;
  /** `droppedByConsumer` by why (for the rotator: `spool-full`, `spool-unwritable`, `io`), where known. */
  droppedByConsumerReasons?: Record<string, number>;
}

/** Zeroed stats. */
export function emptyStats(): CaptureStats {
  return {
    received: 0,
    droppedByKernel: 0,
    droppedByInterface: 0,
    droppedByConsumer: 0,
    captured: 0,
    written: 0,
  };
}
