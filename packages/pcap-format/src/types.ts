import type { Timestamp, TimestampResolution } from "./timestamp.js";

/** The two container formats this package reads. */
export type CaptureFormat = "pcap" | "pcapng";
/** Byte order of a file or section. */
export type Endianness = "little" | "big";
/** Classic pcap timestamp precision. */
export type Precision = "micro" | "nano";

/** One captured packet, as the file holds it. */
export interface PacketRecord extends Timestamp {
  /** Length of the packet on the wire; `data.length` is the captured length. */
  originalLength: number;
  /** Captured bytes. A view into the read chunk where the record lay inside one chunk. */
  data: Uint8Array;
  /** Index of the packet's interface in the whole file (always 0 for classic pcap). */
  interfaceId: number;
  /** LINKTYPE_ value of the packet's interface. */
  linkType: number;
}

/** A classic pcap file header or a pcapng Section Header Block. */
export interface SectionInfo {
  format: CaptureFormat;
  endianness: Endianness;
  versionMajor: number;
  versionMinor: number;
  /** Byte offset of the header in the input. */
  offset: number;
  /** Classic pcap `thiszone` (GMT offset field, almost always 0); 0 for pcapng. */
  timezoneOffset: number;
  /** Classic pcap `sigfigs`; 0 for pcapng. */
  sigfigs: number;
}

/** What packets of one interface share: a classic pcap header or a pcapng Interface Description Block. */
export interface InterfaceInfo {
  /** Index of the interface in the whole file, counting across pcapng sections. */
  id: number;
  linkType: number;
  /**
   * The upper six bits of a classic header's link-type field (bits 26-31: FCS length and reserved flags),
   * kept by convert as libpcap keeps them; 0 for pcapng.
   */
  linkTypeExtension: number;
  /**
   * Snapshot length as the header says; 0 means "no limit" (pcapng). `classicSnaplen()` gives the one
   * libpcap reads with. A Kuznetsov Ethernet capture reports libpcap's, 14 bytes more than its header.
   */
  snaplen: number;
  resolution: TimestampResolution;
  /** pcapng `if_tsoffset` in seconds, added to every timestamp (0 when absent). */
  timestampOffset: number;
  /** Length in bytes of the frame check sequence at the end of each packet, or null when unknown. */
  fcsLength: number | null;
  /** pcapng `if_name`, or null. */
  name: string | null;
  /** Byte offset of the header or block that described the interface. */
  offset: number;
}
