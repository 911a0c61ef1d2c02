/** Largest captured length libpcap and Wireshark accept for ordinary link types (libpcap's MAXIMUM_SNAPLEN). */
export const MAX_CAPTURE_LENGTH = 262144;

const LINKTYPE_DBUS = 231;
const LINKTYPE_EBHSCR = 279;
const LINKTYPE_USBPCAP = 249;

/**
 * Largest captured length libpcap accepts for a link type (its `max_snaplen_for_dlt`): 262144, except D-Bus
 * (128 MiB), EBHSCR (8 MiB) and USBPcap (1 MiB), whose messages are longer.
 */
export function maxCaptureLengthFor(linkType: number): number {
  switch (linkType) {
    case LINKTYPE_DBUS:
      return 128 << 20;
    case LINKTYPE_EBHSCR:
      return 8 << 20;
    case LINKTYPE_USBPCAP:
      return 1 << 20;
    default:
      return MAX_CAPTURE_LENGTH;
  }
}

/**
 * The snapshot length libpcap reads a capture with (its `pcap_adjust_snapshot`): 0 ("no limit") and values
 * above 2^31-1 become the link type's maximum; every other value is kept, also above 262144.
 */
export function effectiveSnaplen(linkType: number, snaplen: number): number {
  return snaplen === 0 || snaplen > 0x7fffffff ? maxCaptureLengthFor(linkType) : snaplen;
}
// Old header values that are the BSD DLT_ numbers of link types, which libpcap (on Linux) reads as those link
// types and `tcpdump -w` writes as their LINKTYPE_ values.
const LINKTYPE_OF_DLT: Readonly<Record<number, number>> = {
  11: 100, // DLT_ATM_RFC1483
  12: 101, // DLT_RAW
  15: 102, // DLT_SLIP_BSDOS
  16: 103, // DLT_PPP_BSDOS
  19: 106, // DLT_ATM_CLIP
};

/** The link type `tcpdump -r IN -w OUT` writes for one read from a header: old DLT_ values become LINKTYPE_ ones. */
export function writtenLinkType(linkType: number): number {
  return LINKTYPE_OF_DLT[linkType] ?? linkType;
}

/** Classic pcap magic for microsecond timestamps, as a number read in the file's own byte order. */
export const PCAP_MAGIC_MICRO = 0xa1b2c3d4;
/** Classic pcap magic for nanosecond timestamps, as a number read in the file's own byte order. */
export const PCAP_MAGIC_NANO = 0xa1b23c4d;
/** Alexey Kuznetsov's patched pcap: 24-byte record headers (interface index, protocol, packet type added). */
export const PCAP_MAGIC_KUZNETSOV = 0xa1b2cd34;
/** pcapng Section Header Block type: a palindrome, the same in both byte orders. */
export const PCAPNG_SHB = 0x0a0d0d0a;
/** pcapng byte-order magic inside the Section Header Block. */
export const PCAPNG_BYTE_ORDER_MAGIC = 0x1a2b3c4d;

/** pcapng block types this package reads; every other block is skipped after its length is checked. */
export const PCAPNG_BLOCK = {
  sectionHeader: 0x0a0d0d0a,
  interfaceDescription: 0x00000001,
  obsoletePacket: 0x00000002,
  simplePacket: 0x00000003,
  enhancedPacket: 0x00000006,
} as const;

/** Common LINKTYPE_ values (https://www.tcpdump.org/linktypes.html). Any 16-bit value is accepted. */
export const LinkType = {
  NULL: 0,
  ETHERNET: 1,
  RAW: 101,
  IEEE802_11: 105,
  LOOP: 108,
  LINUX_SLL: 113,
  IEEE802_11_RADIOTAP: 127,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

/** Size of the classic pcap file header. */
export const PCAP_FILE_HEADER_LENGTH = 24;
/** Size of a classic pcap record header. */
export const PCAP_RECORD_HEADER_LENGTH = 16;
