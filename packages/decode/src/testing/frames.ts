// Hand-built frames for unit tests: exact bytes whose every header field the test knows.

const MAC_A = [0x02, 0, 0, 0, 0, 0x0a];
const MAC_B = [0x02, 0, 0, 0, 0, 0x0b];

const u16 = (n: number): number[] => [(n >> 8) & 0xff, n & 0xff];
const u32 = (n: number): number[] => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];

/** An Ethernet header from a to b (or swapped) with the given EtherType. */
export function ethernet(etherType: number, swapped = false): number[] {
  return [...(swapped ? MAC_A : MAC_B), ...(swapped ? MAC_B : MAC_A), ...u16(etherType)];
}

/**
 * An 802.3 frame: the Ethernet header's type field is the length of `llcAndPayload` (the 802.2 LLC header
 * and what it carries), then `padding` bytes the length does not cover.
 */
export function ieee8023(llcAndPayload: number[], padding = 0): number[] {
  return [...MAC_B, ...MAC_A, ...u16(llcAndPayload.length), ...llcAndPayload, ...new Array(padding).fill(0)];
}

/** LLC SNAP (RFC 1042): DSAP and SSAP 0xAA, UI, an OUI and the EtherType it carries. */
export function snap(etherType: number, oui = [0, 0, 0]): number[] {
  return [0xaa, 0xaa, 0x03, ...oui, ...u16(etherType)];
}

export interface Ipv4Options {
  src: number[];
  dst: number[];
  protocol: number;
  payloadLength: number;
  id?: number;
  flags?: number;
  fragmentOffset?: number;
  ttl?: number;
  tos?: number;
  options?: number[];
}

/** An IPv4 header (checksum left 0x1234: we decode it, we do not verify it). */
export function ipv4(o: Ipv4Options): number[] {
  const options = o.options ?? [];
  const headerLength = 20 + options.length;
  return [
    0x40 | (headerLength / 4),
    o.tos ?? 0,
    ...u16(headerLength + o.payloadLength),
    ...u16(o.id ?? 0x1111),
    ...u16(((o.flags ?? 0) << 13) | (o.fragmentOffset ?? 0)),
    o.ttl ?? 64,
    o.protocol,
    ...u16(0x1234),
    ...o.src,
    ...o.dst,
    ...options,
  ];
}

/** An IPv6 header; `extensions` are raw extension header bytes placed after it. */
export function ipv6(o: {
  src: number[];
  dst: number[];
  next: number;
  payloadLength: number;
  hopLimit?: number;
  trafficClass?: number;
}): number[] {
  const word = (6 << 28) | ((o.trafficClass ?? 0) << 20) | 0x12345;
  return [...u32(word >>> 0), ...u16(o.payloadLength), o.next, o.hopLimit ?? 64, ...o.src, ...o.dst];
}

/** An IPv6 fragment header. */
export function ipv6Fragment(next: number, offsetUnits: number, more: boolean, id: number): number[] {
  return [next, 0, ...u16((offsetUnits << 3) | (more ? 1 : 0)), ...u32(id)];
}

/** A TCP header with optional options (padded to 4 bytes by the caller). */
export function tcp(o: {
  srcPort: number;
  dstPort: number;
  seq?: number;
  ack?: number;
  flags?: number;
  window?: number;
  options?: number[];
}): number[] {
  const options = o.options ?? [];
  const words = 5 + options.length / 4;
  return [
    ...u16(o.srcPort),
    ...u16(o.dstPort),
    ...u32(o.seq ?? 1000),
    ...u32(o.ack ?? 2000),
    (words << 4) | (((o.flags ?? 0x018) >> 8) & 0x0f),
    (o.flags ?? 0x018) & 0xff,
    ...u16(o.window ?? 512),
    ...u16(0xabcd),
    ...u16(0),
    ...options,
  ];
}

/** A UDP header. */
export function udp(srcPort: number, dstPort: number, payloadLength: number): number[] {
  return [...u16(srcPort), ...u16(dstPort), ...u16(8 + payloadLength), ...u16(0x4321)];
}

export const V4_A = [10, 0, 0, 1];
export const V4_B = [10, 0, 0, 2];
export const V6_A = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
export const V6_B = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

/** A complete Ethernet/IPv4/TCP frame between a and b, in either direction. */
export function tcpFrame(srcPort: number, dstPort: number, reverse = false, payload = 10): Uint8Array {
  const [src, dst] = reverse ? [V4_B, V4_A] : [V4_A, V4_B];
  const [sp, dp] = reverse ? [dstPort, srcPort] : [srcPort, dstPort];
  return Uint8Array.from([
    ...ethernet(0x0800, reverse),
    ...ipv4({ src, dst, protocol: 6, payloadLength: 20 + payload }),
    ...tcp({ srcPort: sp, dstPort: dp }),
    ...new Array<number>(payload).fill(0x61),
  ]);
}
