import { badOption } from "./errors.js";
import { finalizeHash, mixWord } from "./hash.js";
import { PacketDecoder } from "./packet-decoder.js";

/** What makes two packets the same flow: addresses, protocol and ports, or addresses only. */
export type FlowKeyKind = "5-tuple" | "2-tuple";

/** Options for a FlowHasher. */
export interface FlowHasherOptions {
  /** "5-tuple" (default): addresses, protocol and ports; "2-tuple": the two IP addresses. */
  key?: FlowKeyKind;
  /** IP datagrams in flight whose first fragment is remembered (default 4096, rounded up to a power of 2). */
  fragmentSlots?: number;
  /** Seed of the hash; hashers with the same key kind and seed give the same values (default 0). */
  seed?: number;
}

/** Anything with captured bytes and a link type: a PacketRecord from @sluice/pcap-format fits. */
export interface FramedBytes {
  data: Uint8Array;
  linkType: number;
}

// Tags keep keys of different shapes from colliding by construction.
const TAG_FIVE_TUPLE = 0x5f5f0005;
const TAG_THREE_TUPLE = 0x5f5f0003;
const TAG_TWO_TUPLE = 0x5f5f0002;
const TAG_MAC_PAIR = 0x5f5f00e2;
const TAG_LINK_PROTOCOL = 0x5f5f00e1;
const TAG_FRAGMENT_CHECK = 0x7f4a7c15;

/**
 * Symmetric flow hashes of raw frames: both directions of a connection hash alike. One object decodes and
 * hashes packet after packet without allocating. IP fragments follow their datagram: the first fragment's
 * flow is remembered by (source, destination, protocol, identification) so later fragments hash the same;
 * a fragment seen before its first falls back to the 2-tuple. Frames without IP hash by their MAC
 * pair (Ethernet) or by protocol alone (SLL, whose one address differs by direction).
 */
export class FlowHasher {
  /** The decoder the last `hash` call filled: its fields describe that packet. */
  readonly decoder = new PacketDecoder();
  readonly key: FlowKeyKind;
  private readonly seed: number;
  private readonly slotMask: number;
  private readonly fragmentCheck: Uint32Array;
  private readonly fragmentFlow: Uint32Array;
  private readonly fragmentUsed: Uint8Array;

  constructor(options: FlowHasherOptions = {}) {
    this.key = options.key ?? "5-tuple";
    if (this.key !== "5-tuple" && this.key !== "2-tuple") {
      throw badOption("flowKey", `flow key must be "5-tuple" or "2-tuple", not "${String(this.key)}"`);
    }
    this.seed = (options.seed ?? 0) | 0;
    const wanted = Math.max(1, options.fragmentSlots ?? 4096);
    const slots = 2 ** Math.ceil(Math.log2(wanted));
    this.slotMask = slots - 1;
    this.fragmentCheck = new Uint32Array(slots);
    this.fragmentFlow = new Uint32Array(slots);
    this.fragmentUsed = new Uint8Array(slots);
  }

  /** The flow hash (an integer from 0 to 2^31-1) of a record (its `data` decoded as `linkType`). */
  hashRecord(record: FramedBytes): number {
    return this.hash(record.data, record.linkType);
  }

  /**
   * The flow hash of the frame `data[start, end)` of link type `linkType`: an integer from 0 to 2^31-1 (31
   * bits, so V8 passes it without boxing and hashing allocates nothing).
   */
  hash(data: Uint8Array, linkType: number, start = 0, end = data.length): number {
    const p = this.decoder.decode(data, linkType, start, end);
    if (p.ipDstOffset >= 0) return this.ipHash(p);
    if (p.dstMacOffset >= 0) return this.macPairHash(p);
    if (p.etherType >= 0) return this.linkProtocolHash(p);
    return finalizeHash(this.seed, 0);
  }

  private ipHash(p: PacketDecoder): number {
    if (this.key === "2-tuple") return this.addressHash(p, TAG_TWO_TUPLE, -1, -1, -1);
    const fragment = p.ipFragmentOffset > 0 || p.moreFragments;
    if (!fragment)
      return this.addressHash(
        p,
        p.srcPort >= 0 ? TAG_FIVE_TUPLE : TAG_THREE_TUPLE,
        p.protocol,
        p.srcPort,
        p.dstPort,
      );
    const slot = this.fragmentSlot(p);
    const check = this.fragmentKeyCheck(p);
    if (p.ipFragmentOffset === 0) {
      const flow = this.addressHash(
        p,
        p.srcPort >= 0 ? TAG_FIVE_TUPLE : TAG_THREE_TUPLE,
        p.protocol,
        p.srcPort,
        p.dstPort,
      );
      this.fragmentUsed[slot] = 1;
      this.fragmentCheck[slot] = check;
      this.fragmentFlow[slot] = flow;
      return flow;
    }
    if (this.fragmentUsed[slot] === 1 && this.fragmentCheck[slot] === check) return this.fragmentFlow[slot]!;
    return this.addressHash(p, TAG_TWO_TUPLE, -1, -1, -1);
  }

  // Hashes the address pair in a fixed order (lower address first) so both directions agree.
  private addressHash(
    p: PacketDecoder,
    tag: number,
    protocol: number,
    srcPort: number,
    dstPort: number,
  ): number {
    const d = p.data;
    const a = p.ipSrcOffset;
    const b = p.ipDstOffset;
    let h = mixWord(this.seed, tag);
    let forward: boolean;
    if (p.ipAddressLength === 4) {
      const x = word(d, a);
      const y = word(d, b);
      forward = x < y || (x === y && srcPort <= dstPort);
      h = mixWord(mixWord(h, forward ? x : y), forward ? y : x);
    } else {
      let order = 0;
      for (let i = 0; i < 16 && order === 0; i += 4) order = word(d, a + i) - word(d, b + i);
      forward = order < 0 || (order === 0 && srcPort <= dstPort);
      const low = forward ? a : b;
      const high = forward ? b : a;
      for (let i = 0; i < 16; i += 4) h = mixWord(h, word(d, low + i));
      for (let i = 0; i < 16; i += 4) h = mixWord(h, word(d, high + i));
    }
    if (tag !== TAG_TWO_TUPLE) {
      h = mixWord(h, protocol);
      if (srcPort >= 0) h = mixWord(h, forward ? (srcPort << 16) | dstPort : (dstPort << 16) | srcPort);
    }
    return finalizeHash(h, p.ipAddressLength * 2);
  }

  private fragmentSlot(p: PacketDecoder): number {
    return this.fragmentHash(p, this.seed) & this.slotMask;
  }

  private fragmentKeyCheck(p: PacketDecoder): number {
    return this.fragmentHash(p, this.seed ^ TAG_FRAGMENT_CHECK);
  }

  private fragmentHash(p: PacketDecoder, seed: number): number {
    const d = p.data;
    let h = seed;
    const span = p.ipAddressLength * 2; // source and destination are adjacent in both IPv4 and IPv6
    for (let at = p.ipSrcOffset; at < p.ipSrcOffset + span; at += 4) h = mixWord(h, word(d, at));
    h = mixWord(h, p.protocol);
    h = mixWord(h, p.ipIdentification | 0);
    return finalizeHash(h, span);
  }

  private macPairHash(p: PacketDecoder): number {
    const d = p.data;
    const a = p.dstMacOffset;
    const b = p.srcMacOffset;
    let order = 0;
    for (let i = 0; i < 6 && order === 0; i++) order = d[a + i]! - d[b + i]!;
    const low = order <= 0 ? a : b;
    const high = order <= 0 ? b : a;
    let h = mixWord(this.seed, TAG_MAC_PAIR);
    h = mixWord(h, word(d, low));
    h = mixWord(h, (d[low + 4]! << 8) | d[low + 5]!);
    h = mixWord(h, word(d, high));
    h = mixWord(h, (d[high + 4]! << 8) | d[high + 5]!);
    return finalizeHash(h, 12);
  }

  // SLL and SLL2 carry only the sending side's address, which differs by direction: hash the protocol alone.
  private linkProtocolHash(p: PacketDecoder): number {
    return finalizeHash(mixWord(mixWord(this.seed, TAG_LINK_PROTOCOL), p.etherType), 4);
  }
}

// A signed 32-bit word: orders addresses consistently and, unlike an unsigned one, is never boxed.
function word(d: Uint8Array, at: number): number {
  return (d[at]! << 24) | (d[at + 1]! << 16) | (d[at + 2]! << 8) | d[at + 3]!;
}

const sharedHasher = new FlowHasher();

/**
 * The 5-tuple flow hash of a record with a shared FlowHasher (fragments tracked across calls). For several
 * independent streams or the 2-tuple, make a FlowHasher each.
 */
export function flowHash(record: FramedBytes): number {
  return sharedHasher.hashRecord(record);
}
