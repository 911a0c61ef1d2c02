import { formatTimestamp } from "@sluice/pcap-format";
import { formatIp, formatMac, hexOf } from "./format.js";
import { type DecodeLayer, type DecodeStop, IpProtocol, PacketDecoder } from "./packet-decoder.js";

/** A packet as `readPackets` yields it: timestamp, lengths, bytes and link type. */
export interface FieldsInput {
  seconds: number;
  nanoseconds: number;
  originalLength: number;
  data: Uint8Array;
  linkType: number;
}

/**
 * One packet's header fields under the names network-analytics pipelines use (Logisland's), plus the
 * record's timestamp and lengths. Every key is always present; a field of a layer the packet does not have
 * (or whose header was cut off) is null. Lengths are in bytes; numbers are unsigned.
 */
export interface PacketFields {
  /** Capture time, "<seconds>.<9 digits>" (tshark's frame.time_epoch). */
  timestamp: string;
  captured_length: number;
  original_length: number;
  /** LINKTYPE_ value of the frame. */
  link_type: number;
  /** Ethernet addresses; for SLL/SLL2 only the source (the one link address they carry). */
  src_mac: string | null;
  dst_mac: string | null;
  /** EtherType after VLAN tags (SLL protocol, SNAP protocol ID), or null (other 802.3 frames, raw IP). */
  ether_type: number | null;
  /** Outer and inner 802.1Q/802.1ad VLAN ID, or null. */
  vlan_id: number | null;
  inner_vlan_id: number | null;
  /** Top MPLS label, or null. */
  mpls_label: number | null;
  /** 4 or 6. */
  ip_version: number | null;
  /** IPv4 header length in bytes; IPv6: 40 plus extension headers up to the transport. */
  ip_internet_header_length: number | null;
  /** IPv4 TOS/DS byte or IPv6 traffic class. */
  ip_type_of_service: number | null;
  /** IPv4 total length; IPv6: 40 + payload length. */
  ip_datagram_total_length: number | null;
  /** IPv4 identification; IPv6 fragment header identification (null without one). */
  ip_identification: number | null;
  /** IPv4 flags, 3 bits: 4 reserved, 2 don't fragment, 1 more fragments. Null for IPv6. */
  ip_flags: number | null;
  /** Fragment offset in 8-byte units, as in the header (IPv4, IPv6 fragment header). */
  ip_fragment_offset: number | null;
  /** IPv4 TTL or IPv6 hop limit. */
  ip_time_to_live: number | null;
  /** Transport protocol number (IPv6: the next header after extension headers). */
  protocol: number | null;
  ip_checksum: number | null;
  src_ip: string | null;
  dst_ip: string | null;
  /** IPv4 options as lowercase hex ("" when none); null for IPv6. */
  ip_options: string | null;
  /** TCP, UDP, SCTP, DCCP or UDP-Lite ports. */
  src_port: number | null;
  dest_port: number | null;
  tcp_sequence_number: number | null;
  tcp_acknowledgment_number: number | null;
  /** TCP header length in bytes. */
  tcp_data_offset: number | null;
  /** The 12 TCP flag bits (0x002 SYN, 0x010 ACK, ...), as tshark's tcp.flags. */
  tcp_flags: number | null;
  tcp_window_size: number | null;
  tcp_checksum: number | null;
  tcp_urgent_pointer: number | null;
  /** TCP options as lowercase hex ("" when none). */
  tcp_options: string | null;
  udp_segment_total_length: number | null;
  udp_checksum: number | null;
  icmp_type: number | null;
  icmp_code: number | null;
  /** null when every header present was decoded; else where and why decoding stopped. */
  decode_stop: { reason: DecodeStop; layer: DecodeLayer; offset: number } | null;
}

const orNull = (n: number): number | null => (n < 0 ? null : n);

/**
 * Decodes one packet into its field record. Pass a PacketDecoder to reuse it; the record itself is a new
 * object (this is the readable path; use PacketDecoder or FlowHasher directly on hot paths).
 */
export function packetFields(
  packet: FieldsInput,
  decoder: PacketDecoder = new PacketDecoder(),
): PacketFields {
  const p = decoder.decode(packet.data, packet.linkType);
  const d = p.data;
  const tcp = p.protocol === IpProtocol.TCP && p.transportOffset >= 0;
  const udp = (p.protocol === IpProtocol.UDP || p.protocol === IpProtocol.UDPLITE) && p.transportOffset >= 0;
  const v4 = p.ipVersion === 4 && p.ipOptionsOffset >= 0;
  const tcpField = (n: number): number | null => (tcp ? orNull(n) : null);
  const udpField = (n: number): number | null => (udp ? orNull(n) : null);
  return {
    timestamp: formatTimestamp(packet.seconds, packet.nanoseconds),
    captured_length: packet.data.length,
    original_length: packet.originalLength,
    link_type: packet.linkType,
    src_mac: p.srcMacOffset >= 0 && p.srcMacLength > 0 ? formatMac(d, p.srcMacOffset, p.srcMacLength) : null,
    dst_mac: p.dstMacOffset >= 0 ? formatMac(d, p.dstMacOffset, 6) : null,
    ether_type: orNull(p.etherType),
    vlan_id: orNull(p.outerVlanId),
    inner_vlan_id: orNull(p.innerVlanId),
    mpls_label: orNull(p.mplsTopLabel),
    ip_version: orNull(p.ipVersion),
    ip_internet_header_length: orNull(p.ipHeaderLength),
    ip_type_of_service: orNull(p.ipTypeOfService),
    ip_datagram_total_length: orNull(p.ipTotalLength),
    ip_identification: orNull(p.ipIdentification),
    ip_flags: orNull(p.ipFlags),
    ip_fragment_offset: orNull(p.ipFragmentOffset),
    ip_time_to_live: orNull(p.ipTimeToLive),
    protocol: orNull(p.protocol),
    ip_checksum: orNull(p.ipChecksum),
    src_ip: p.ipSrcOffset >= 0 ? formatIp(d, p.ipSrcOffset, p.ipAddressLength) : null,
    dst_ip: p.ipDstOffset >= 0 ? formatIp(d, p.ipDstOffset, p.ipAddressLength) : null,
    ip_options: v4 && p.ipOptionsOffset >= 0 ? hexOf(d, p.ipOptionsOffset, p.ipOptionsLength) : null,
    src_port: orNull(p.srcPort),
    dest_port: orNull(p.dstPort),
    tcp_sequence_number: tcpField(p.tcpSequence),
    tcp_acknowledgment_number: tcpField(p.tcpAcknowledgment),
    tcp_data_offset: tcpField(p.tcpHeaderLength),
    tcp_flags: tcpField(p.tcpFlags),
    tcp_window_size: tcpField(p.tcpWindow),
    tcp_checksum: tcpField(p.tcpChecksum),
    tcp_urgent_pointer: tcpField(p.tcpUrgentPointer),
    tcp_options: tcp && p.tcpOptionsOffset >= 0 ? hexOf(d, p.tcpOptionsOffset, p.tcpOptionsLength) : null,
    udp_segment_total_length: udpField(p.udpLength),
    udp_checksum: udpField(p.udpChecksum),
    icmp_type: orNull(p.icmpType),
    icmp_code: orNull(p.icmpCode),
    decode_stop:
      p.stop === null ? null : { reason: p.stop, layer: p.stopLayer ?? "link", offset: p.stopOffset },
  };
}
