import { LinkType } from "@sluice/pcap-format";

/** Why decoding stopped before the payload: the packet ended, a header was invalid, or we do not decode it. */
export type DecodeStop = "truncated" | "malformed" | "unsupported";

/** The header a decode stopped in (or before, for "unsupported"). */
export type DecodeLayer =
  | "link"
  | "vlan"
  | "mpls"
  | "ipv4"
  | "ipv6"
  | "ipv6-extension"
  | "tcp"
  | "udp"
  | "icmp"
  | "icmpv6"
  | "transport";

const LINKTYPE_RAW_ALIAS = 12; // DLT_RAW as some BSDs number it

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100;
const ETHERTYPE_QINQ = 0x88a8;
const ETHERTYPE_QINQ_OLD = 0x9100;
const ETHERTYPE_MPLS = 0x8847;
const ETHERTYPE_MPLS_MULTICAST = 0x8848;

/** IP protocol numbers the decoder reads a header for. */
export const IpProtocol = {
  ICMP: 1,
  TCP: 6,
  UDP: 17,
  ICMPV6: 58,
  SCTP: 132,
  UDPLITE: 136,
  DCCP: 33,
} as const;

const MAX_IPV6_EXTENSIONS = 16;
const EMPTY = new Uint8Array(0);

/**
 * A reusable L2–L4 header decoder: `decode()` fills its fields in place, so decoding a packet allocates
 * nothing. Fields of a layer that is absent (or not captured) hold -1.
 * Offsets index `data`. Never throws on packet bytes: a short or invalid header sets `stop`, `stopLayer`
 * and `stopOffset`; every field whose bytes were captured is still decoded, as Wireshark does.
 */
export class PacketDecoder {
  /** The bytes of the last decode (a view the caller owns; not copied). */
  data: Uint8Array = EMPTY;
  /**
   * Index after the last captured byte decoded: `data.length` unless `decode` was given an end, or an 802.3
   * frame's length field ends it sooner (what follows is padding).
   */
  end = 0;
  linkType = 0;

  /** Offset of the destination MAC (Ethernet), or -1. */
  dstMacOffset = -1;
  /** Offset of the source link address (Ethernet, SLL, SLL2), or -1. */
  srcMacOffset = -1;
  /** Length of the source link address (6 for Ethernet; SLL's address length, at most 8). */
  srcMacLength = 0;
  /**
   * EtherType after VLAN tags (or SLL protocol, or an 802.3 frame's SNAP protocol ID), or -1; an 802.3
   * length field is reported as -1.
   */
  etherType = -1;
  /** VLAN tags seen (802.1Q, 802.1ad, QinQ); the first two IDs are kept. */
  vlanCount = 0;
  outerVlanId = -1;
  innerVlanId = -1;
  /** MPLS labels seen; the first (top) and last (bottom of stack) are kept. */
  mplsCount = 0;
  mplsTopLabel = -1;
  mplsBottomLabel = -1;

  /** Offset of the IP header, or -1. */
  networkOffset = -1;
  /** The IP header's version nibble (4 or 6 unless malformed), or -1 when there is no IP header. */
  ipVersion = -1;
  /** IPv4 header length in bytes; for IPv6, 40 plus the extension headers before the transport. */
  ipHeaderLength = -1;
  /** IPv4 type of service byte, or the IPv6 traffic class. */
  ipTypeOfService = -1;
  /** IPv4 total length; IPv6 40 + payload length. */
  ipTotalLength = -1;
  /** IPv4 identification, or the IPv6 fragment header's identification (-1 without one). */
  ipIdentification = -1;
  /** IPv4 flags, 3 bits (4 reserved, 2 don't fragment, 1 more fragments); -1 for IPv6. */
  ipFlags = -1;
  /** Fragment offset in 8-byte units as the header holds it (IPv4, or IPv6 fragment header), else -1. */
  ipFragmentOffset = -1;
  /** More fragments follow this one (IPv4 MF flag or IPv6 M flag). */
  moreFragments = false;
  /** IPv4 TTL or IPv6 hop limit. */
  ipTimeToLive = -1;
  /** IPv4 header checksum, or -1. */
  ipChecksum = -1;
  /** IPv6 flow label, or -1. */
  ipv6FlowLabel = -1;
  /** Offsets of the source and destination addresses (-1 when not captured whole) and their length (4 or 16). */
  ipSrcOffset = -1;
  ipDstOffset = -1;
  ipAddressLength = 0;
  /** IPv4 options: `data[ipOptionsOffset, ipOptionsOffset + ipOptionsLength)` (captured part). */
  ipOptionsOffset = -1;
  ipOptionsLength = 0;
  /** Index after the IP datagram's last captured byte (excludes Ethernet padding). */
  ipEnd = -1;

  /** Transport protocol: IPv4 protocol or the IPv6 next header after extension headers; -1 without IP. */
  protocol = -1;
  /** Offset of the transport header, or -1 (also for fragments other than the first). */
  transportOffset = -1;
  /** Ports of TCP, UDP, SCTP, DCCP and UDP-Lite, or -1. */
  srcPort = -1;
  dstPort = -1;
  tcpSequence = -1;
  tcpAcknowledgment = -1;
  /** TCP header length in bytes. */
  tcpHeaderLength = -1;
  /** The 12 flag bits (reserved, NS, CWR, ECE, URG, ACK, PSH, RST, SYN, FIN). */
  tcpFlags = -1;
  tcpWindow = -1;
  tcpChecksum = -1;
  tcpUrgentPointer = -1;
  tcpOptionsOffset = -1;
  tcpOptionsLength = 0;
  udpLength = -1;
  udpChecksum = -1;
  icmpType = -1;
  icmpCode = -1;
  icmpChecksum = -1;
  /** Offset of the first byte after the last decoded header, or -1. */
  payloadOffset = -1;

  /** null when every header present was decoded; otherwise why decoding stopped. */
  stop: DecodeStop | null = null;
  stopLayer: DecodeLayer | null = null;
  /** Byte offset in `data` of the header where decoding stopped, or -1. */
  stopOffset = -1;

  /** Decodes `data[start, end)` as a frame of `linkType` (a LINKTYPE_ value). */
  decode(data: Uint8Array, linkType: number, start = 0, end = data.length): this {
    this.reset(data, linkType, end);
    switch (linkType) {
      case LinkType.ETHERNET:
        this.ethernet(start);
        break;
      case LinkType.LINUX_SLL:
        this.sll(start);
        break;
      case LinkType.LINUX_SLL2:
        this.sll2(start);
        break;
      case LinkType.RAW:
      case LINKTYPE_RAW_ALIAS:
      case LinkType.IPV4:
      case LinkType.IPV6:
        this.ipByVersion(start, "link");
        break;
      case LinkType.NULL:
      case LinkType.LOOP:
        // A 4-byte address family (host or network order); the version nibble says as much.
        if (end - start < 4) this.halt("truncated", "link", start);
        else this.ipByVersion(start + 4, "link");
        break;
      default:
        this.halt("unsupported", "link", start);
    }
    return this;
  }

  /** Decodes a record's captured bytes by its link type (a PacketRecord from @sluice/pcap-format fits). */
  decodeRecord(record: { data: Uint8Array; linkType: number }): this {
    return this.decode(record.data, record.linkType);
  }

  private reset(data: Uint8Array, linkType: number, end: number): undefined {
    this.data = data;
    this.end = Math.min(end, data.length);
    this.linkType = linkType;
    this.dstMacOffset = -1;
    this.srcMacOffset = -1;
    this.srcMacLength = 0;
    this.etherType = -1;
    this.vlanCount = 0;
    this.outerVlanId = -1;
    this.innerVlanId = -1;
    this.mplsCount = 0;
    this.mplsTopLabel = -1;
    this.mplsBottomLabel = -1;
    this.networkOffset = -1;
    this.ipVersion = -1;
    this.ipHeaderLength = -1;
    this.ipTypeOfService = -1;
    this.ipTotalLength = -1;
    this.ipIdentification = -1;
    this.ipFlags = -1;
    this.ipFragmentOffset = -1;
    this.moreFragments = false;
    this.ipTimeToLive = -1;
    this.ipChecksum = -1;
    this.ipv6FlowLabel = -1;
    this.ipSrcOffset = -1;
    this.ipDstOffset = -1;
    this.ipAddressLength = 0;
    this.ipOptionsOffset = -1;
    this.ipOptionsLength = 0;
    this.ipEnd = -1;
    this.protocol = -1;
    this.transportOffset = -1;
    this.srcPort = -1;
    this.dstPort = -1;
    this.tcpSequence = -1;
    this.tcpAcknowledgment = -1;
    this.tcpHeaderLength = -1;
    this.tcpFlags = -1;
    this.tcpWindow = -1;
    this.tcpChecksum = -1;
    this.tcpUrgentPointer = -1;
    this.tcpOptionsOffset = -1;
    this.tcpOptionsLength = 0;
    this.udpLength = -1;
    this.udpChecksum = -1;
    this.icmpType = -1;
    this.icmpCode = -1;
    this.icmpChecksum = -1;
    this.payloadOffset = -1;
    this.stop = null;
    this.stopLayer = null;
    this.stopOffset = -1;
  }

  private halt(stop: DecodeStop, layer: DecodeLayer, offset: number): undefined {
    this.stop = stop;
    this.stopLayer = layer;
    this.stopOffset = offset;
  }

  private u16(at: number): number {
    const d = this.data;
    return (d[at]! << 8) | d[at + 1]!;
  }

  private u32(at: number): number {
    const d = this.data;
    return ((d[at]! << 24) | (d[at + 1]! << 16) | (d[at + 2]! << 8) | d[at + 3]!) >>> 0;
  }

  private ethernet(at: number): undefined {
    if (this.end - at < 14) return this.halt("truncated", "link", at);
    this.dstMacOffset = at;
    this.srcMacOffset = at + 6;
    this.srcMacLength = 6;
    const type = this.u16(at + 12);
    // Below 1536 the field is an 802.3 length, and an 802.2 LLC header follows.
    if (type < 0x600) return this.llc(at + 14, type);
    this.etherPayload(type, at + 14);
  }

  // IP rides over LLC in two forms, both decoded by Wireshark and tcpdump: SNAP with an EtherType (RFC 1042,
  // OUI 00-00-00, or 802.1H's 00-00-F8) and the IP SAP 0x06. Other LLC payloads (STP, NetBIOS, IPX) are not
  // ours to decode. Bytes past the 802.3 length are padding.
  private llc(at: number, length: number): undefined {
    this.end = Math.min(this.end, at + length);
    if (this.end - at < 3) return this.halt("truncated", "link", at);
    const d = this.data;
    const control = d[at + 2]!;
    // I-frames have a 2-byte control field, UI frames (poll/final bit either way) one; others carry no IP.
    const controlLength = (control & 1) === 0 ? 2 : (control & 0xef) === 0x03 ? 1 : 0;
    const payload = at + 2 + controlLength;
    if (controlLength === 0) return this.halt("unsupported", "link", at);
    if (d[at] === 0xaa && d[at + 1] === 0xaa) {
      if (this.end - payload < 5) return this.halt("truncated", "link", at);
      const oui = (d[payload]! << 16) | (d[payload + 1]! << 8) | d[payload + 2]!;
      if (oui !== 0 && oui !== 0xf8) return this.halt("unsupported", "link", at);
      return this.etherPayload(this.u16(payload + 3), payload + 5);
    }
    if (d[at] === 0x06) return this.ipv4OrIpv6(payload);
    this.halt("unsupported", "link", at);
  }

  private sll(at: number): undefined {
    if (this.end - at < 16) return this.halt("truncated", "link", at);
    this.srcMacOffset = at + 6;
    this.srcMacLength = Math.min(this.u16(at + 4), 8);
    this.etherPayload(this.u16(at + 14), at + 16);
  }

  private sll2(at: number): undefined {
    if (this.end - at < 20) return this.halt("truncated", "link", at);
    this.srcMacOffset = at + 12;
    this.srcMacLength = Math.min(this.data[at + 11]!, 8);
    this.etherPayload(this.u16(at), at + 20);
  }

  // VLAN tags, then MPLS or IP by EtherType.
  private etherPayload(type: number, at: number): undefined {
    while (type === ETHERTYPE_VLAN || type === ETHERTYPE_QINQ || type === ETHERTYPE_QINQ_OLD) {
      if (this.end - at < 4) return this.halt("truncated", "vlan", at);
      const id = this.u16(at) & 0x0fff;
      if (this.vlanCount === 0) this.outerVlanId = id;
      else if (this.vlanCount === 1) this.innerVlanId = id;
      this.vlanCount++;
      type = this.u16(at + 2);
      at += 4;
    }
    this.etherType = type;
    if (type === ETHERTYPE_IPV4) return this.ipv4OrIpv6(at);
    if (type === ETHERTYPE_IPV6) return this.ipv6(at);
    if (type === ETHERTYPE_MPLS || type === ETHERTYPE_MPLS_MULTICAST) return this.mpls(at);
    this.payloadOffset = at;
    this.halt("unsupported", "link", at);
  }

  private mpls(at: number): undefined {
    for (;;) {
      if (this.end - at < 4) return this.halt("truncated", "mpls", at);
      const entry = this.u32(at);
      const label = entry >>> 12;
      if (this.mplsCount === 0) this.mplsTopLabel = label;
      this.mplsBottomLabel = label;
      this.mplsCount++;
      at += 4;
      if (entry & 0x100) break;
    }
    // MPLS does not say what it carries; like Wireshark, guess IP from the version nibble.
    this.ipByVersion(at, "mpls");
  }

  // What an IPv4 EtherType or the IP SAP announces: like Wireshark, believe an IPv6 version nibble over it;
  // any other version is a malformed IPv4 header.
  private ipv4OrIpv6(at: number): undefined {
    return at < this.end && this.data[at]! >> 4 === 6 ? this.ipv6(at) : this.ipv4(at);
  }

  private ipByVersion(at: number, layer: DecodeLayer): undefined {
    if (at >= this.end) return this.halt("truncated", layer, at);
    const version = this.data[at]! >> 4;
    if (version === 4) return this.ipv4(at);
    if (version === 6) return this.ipv6(at);
    this.payloadOffset = at;
    this.halt("unsupported", layer, at);
  }

  private ipv4(at: number): undefined {
    this.networkOffset = at;
    const available = this.end - at;
    if (available < 20) return this.partialIpv4(at, available);
    const d = this.data;
    const first = d[at]!;
    this.ipVersion = first >> 4;
    const headerLength = (first & 0x0f) * 4;
    this.ipHeaderLength = headerLength;
    this.ipTypeOfService = d[at + 1]!;
    const total = this.u16(at + 2);
    this.ipTotalLength = total;
    this.ipIdentification = this.u16(at + 4);
    const flagsAndOffset = this.u16(at + 6);
    this.ipFlags = flagsAndOffset >> 13;
    this.ipFragmentOffset = flagsAndOffset & 0x1fff;
    this.moreFragments = (flagsAndOffset & 0x2000) !== 0;
    this.ipTimeToLive = d[at + 8]!;
    this.protocol = d[at + 9]!;
    this.ipChecksum = this.u16(at + 10);
    this.ipSrcOffset = at + 12;
    this.ipDstOffset = at + 16;
    this.ipAddressLength = 4;
    if (this.ipVersion !== 4 || headerLength < 20 || total < headerLength) {
      return this.halt("malformed", "ipv4", at);
    }
    this.ipOptionsOffset = at + 20;
    this.ipOptionsLength = Math.max(0, Math.min(headerLength, available) - 20);
    this.ipEnd = at + Math.min(total, available);
    if (available < headerLength) return this.halt("truncated", "ipv4", at);
    this.payloadOffset = at + headerLength;
    if (this.ipFragmentOffset !== 0) return;
    this.transport(at + headerLength, this.protocol);
  }

  // The fields of a cut-off IPv4 header that were captured, each only if all its bytes were.
  private partialIpv4(at: number, available: number): undefined {
    const d = this.data;
    if (available >= 1) {
      this.ipVersion = d[at]! >> 4;
      this.ipHeaderLength = (d[at]! & 0x0f) * 4;
    }
    if (available >= 2) this.ipTypeOfService = d[at + 1]!;
    if (available >= 4) this.ipTotalLength = this.u16(at + 2);
    if (available >= 6) this.ipIdentification = this.u16(at + 4);
    if (available >= 8) {
      const flagsAndOffset = this.u16(at + 6);
      this.ipFlags = flagsAndOffset >> 13;
      this.ipFragmentOffset = flagsAndOffset & 0x1fff;
      this.moreFragments = (flagsAndOffset & 0x2000) !== 0;
    }
    if (available >= 9) this.ipTimeToLive = d[at + 8]!;
    if (available >= 10) this.protocol = d[at + 9]!;
    if (available >= 12) this.ipChecksum = this.u16(at + 10);
    if (available >= 16) {
      this.ipSrcOffset = at + 12;
      this.ipAddressLength = 4;
    }
    return this.halt("truncated", "ipv4", at);
  }

  private ipv6(at: number): undefined {
    this.networkOffset = at;
    const available = this.end - at;
    const d = this.data;
    if (available >= 1) this.ipVersion = d[at]! >> 4;
    if (available >= 4) {
      const word = this.u32(at);
      this.ipTypeOfService = (word >>> 20) & 0xff;
      this.ipv6FlowLabel = word & 0xfffff;
    }
    const payloadLength = available >= 6 ? this.u16(at + 4) : -1;
    if (payloadLength >= 0) this.ipTotalLength = 40 + payloadLength;
    if (available >= 7) this.protocol = d[at + 6]!;
    if (available >= 8) this.ipTimeToLive = d[at + 7]!;
    if (available >= 24) {
      this.ipSrcOffset = at + 8;
      this.ipAddressLength = 16;
    }
    if (available < 40) return this.halt("truncated", "ipv6", at);
    this.ipDstOffset = at + 24;
    this.ipHeaderLength = 40;
    if (this.ipVersion !== 6) return this.halt("malformed", "ipv6", at);
    // A payload length of 0 with a hop-by-hop header is a jumbogram: the datagram runs to the frame's end.
    this.ipEnd = payloadLength === 0 ? this.end : at + Math.min(40 + payloadLength, available);
    this.extensions(at + 40, d[at + 6]!, at);
  }

  // Walks IPv6 extension headers to the transport.
  private extensions(at: number, next: number, ipAt: number): undefined {
    for (let seen = 0; ; seen++) {
      this.protocol = next;
      this.ipHeaderLength = at - ipAt;
      if (!isExtension(next)) break;
      if (seen === MAX_IPV6_EXTENSIONS) return this.halt("unsupported", "ipv6-extension", at);
      if (this.ipEnd - at < 8) {
        if (at < this.ipEnd) this.protocol = this.data[at]!; // the cut-off header still names what follows
        return this.halt("truncated", "ipv6-extension", at);
      }
      const d = this.data;
      if (next === 44) {
        const offsetAndFlags = this.u16(at + 2);
        this.ipFragmentOffset = offsetAndFlags >> 3;
        this.moreFragments = (offsetAndFlags & 1) !== 0;
        this.ipIdentification = this.u32(at + 4);
        next = d[at]!;
        at += 8;
        if (this.ipFragmentOffset !== 0) {
          this.protocol = next;
          this.ipHeaderLength = at - ipAt;
          this.payloadOffset = at;
          return;
        }
        continue;
      }
      const length = next === 51 ? (d[at + 1]! + 2) * 4 : (d[at + 1]! + 1) * 8;
      next = d[at]!;
      at += length;
      if (at > this.ipEnd) {
        this.protocol = next;
        return this.halt("truncated", "ipv6-extension", at - length);
      }
    }
    this.payloadOffset = at;
    this.transport(at, next);
  }

  private transport(at: number, protocol: number): undefined {
    const available = this.ipEnd - at;
    switch (protocol) {
      case IpProtocol.TCP:
        return this.tcp(at, available);
      case IpProtocol.UDP:
      case IpProtocol.UDPLITE:
        return this.udp(at, available);
      case IpProtocol.ICMP:
      case IpProtocol.ICMPV6:
        return this.icmp(at, available, protocol === IpProtocol.ICMP ? "icmp" : "icmpv6");
      case IpProtocol.SCTP:
      case IpProtocol.DCCP:
        if (available < 4) return this.halt("truncated", "transport", at);
        this.transportOffset = at;
        this.srcPort = this.u16(at);
        this.dstPort = this.u16(at + 2);
        return;
    }
  }

  private tcp(at: number, available: number): undefined {
    this.transportOffset = at;
    this.ports(at, available);
    if (available < 20) {
      if (available >= 8) this.tcpSequence = this.u32(at + 4);
      if (available >= 12) this.tcpAcknowledgment = this.u32(at + 8);
      if (available >= 13) this.tcpHeaderLength = (this.data[at + 12]! >> 4) * 4;
      if (available >= 14) this.tcpFlags = ((this.data[at + 12]! & 0x0f) << 8) | this.data[at + 13]!;
      if (available >= 16) this.tcpWindow = this.u16(at + 14);
      if (available >= 18) this.tcpChecksum = this.u16(at + 16);
      return this.halt("truncated", "tcp", at);
    }
    const d = this.data;
    this.tcpSequence = this.u32(at + 4);
    this.tcpAcknowledgment = this.u32(at + 8);
    const headerLength = (d[at + 12]! >> 4) * 4;
    this.tcpHeaderLength = headerLength;
    this.tcpFlags = ((d[at + 12]! & 0x0f) << 8) | d[at + 13]!;
    this.tcpWindow = this.u16(at + 14);
    this.tcpChecksum = this.u16(at + 16);
    this.tcpUrgentPointer = this.u16(at + 18);
    if (headerLength < 20) return this.halt("malformed", "tcp", at);
    this.tcpOptionsOffset = at + 20;
    this.tcpOptionsLength = Math.min(headerLength, available) - 20;
    if (available < headerLength) return this.halt("truncated", "tcp", at);
    this.payloadOffset = at + headerLength;
  }

  private ports(at: number, available: number): undefined {
    if (available >= 2) this.srcPort = this.u16(at);
    if (available >= 4) this.dstPort = this.u16(at + 2);
  }

  private udp(at: number, available: number): undefined {
    this.transportOffset = at;
    this.ports(at, available);
    if (available >= 6) this.udpLength = this.u16(at + 4);
    if (available < 8) return this.halt("truncated", "udp", at);
    this.udpChecksum = this.u16(at + 6);
    this.payloadOffset = at + 8;
  }

  private icmp(at: number, available: number, layer: "icmp" | "icmpv6"): undefined {
    this.transportOffset = at;
    if (available < 4) return this.halt("truncated", layer, at);
    this.icmpType = this.data[at]!;
    this.icmpCode = this.data[at + 1]!;
    this.icmpChecksum = this.u16(at + 2);
    this.payloadOffset = at + 4;
  }
}

// Hop-by-hop, routing, fragment, destination options, AH, mobility, HIP, shim6.
function isExtension(next: number): boolean {
  return (
    next === 0 ||
    next === 43 ||
    next === 44 ||
    next === 60 ||
    next === 51 ||
    next === 135 ||
    next === 139 ||
    next === 140
  );
}
