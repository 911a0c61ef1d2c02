// Turns records of one link type into frames of the output's link type. Cooked (SLL, SLL2), raw-IP and
// BSD loopback records become Ethernet frames with configured MACs; Ethernet frames become raw IP for
// raw-IP outputs. A pair with no conversion is an "unsupported-linktype" error for the whole file; a
// record whose own header cannot be converted (say, SLL carrying a non-Ethernet protocol) is skipped.
import { LinkType } from "@sluice/pcap-format";
import { ReplayError } from "./errors.js";

/** Converts one record's bytes; returns the frame, or null when this record cannot be converted. */
export type FrameConverter = (data: Uint8Array) => Uint8Array | null;

/** The converter of a link type to itself: callers may skip calling it and use the record's bytes. */
export const IDENTITY: FrameConverter = (data) => data;

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const MAX_FRAME = 256 * 1024 + 64;

/** Default MACs of converted frames: locally administered, so they never clash with real hardware. */
export const DEFAULT_MACS = { src: "02:00:00:00:00:01", dst: "02:00:00:00:00:02" };

/** Parses "aa:bb:cc:dd:ee:ff" (or with dashes); throws ReplayError "bad-option" naming the option. */
export function parseMac(text: string, option: string): Uint8Array {
  const parts = text.trim().split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) {
    throw new ReplayError("bad-option", `${option} "${text}" is not a MAC address like 02:00:00:00:00:01`, {
      option,
      value: text,
    });
  }
  return Uint8Array.from(parts.map((p) => Number.parseInt(p, 16)));
}

function linkTypeName(linkType: number): string {
  const entry = Object.entries(LinkType).find(([, value]) => value === linkType);
  return entry ? `${entry[0]} (${linkType})` : `${linkType}`;
}

function ipEthertype(data: Uint8Array, offset: number): number {
  const version = (data[offset] ?? 0) >> 4;
  return version === 4 ? ETHERTYPE_IPV4 : version === 6 ? ETHERTYPE_IPV6 : 0;
}

// BSD address families seen in DLT_NULL/LOOP headers for IPv4 and IPv6 (Linux, BSDs, macOS).
function familyEthertype(family: number): number {
  if (family === 2) return ETHERTYPE_IPV4;
  if (family === 10 || family === 24 || family === 28 || family === 30) return ETHERTYPE_IPV6;
  return 0;
}

/** Builds converters per input link type for one output link type, reusing one scratch buffer. */
export class LinkConverter {
  private readonly scratch = Buffer.allocUnsafe(MAX_FRAME);
  private readonly cache = new Map<number, FrameConverter>();

  constructor(
    private readonly target: number,
    macs: { src: Uint8Array; dst: Uint8Array },
  ) {
    this.scratch.set(macs.dst, 0);
    this.scratch.set(macs.src, 6);
  }

  /** The converter for records of `linkType`; throws "unsupported-linktype" when there is none. */
  for(linkType: number, where: Record<string, unknown>): FrameConverter {
    let converter = this.cache.get(linkType);
    if (!converter) {
      const made = this.make(linkType);
      if (!made) {
        throw new ReplayError(
          "unsupported-linktype",
          `records of link type ${linkTypeName(linkType)} cannot be sent on a ${linkTypeName(this.target)} output`,
          { ...where, linkType, outputLinkType: this.target },
        );
      }
      converter = made;
      this.cache.set(linkType, converter);
    }
    return converter;
  }

  private make(from: number): FrameConverter | null {
    if (from === this.target) return IDENTITY;
    if (this.target === LinkType.ETHERNET) return this.toEthernet(from);
    if (this.target === LinkType.RAW) return this.toRaw(from);
    return null;
  }

  // Ethernet header (configured MACs already in scratch) + ethertype + payload.
  private ethernet(ethertype: number, data: Uint8Array, payloadOffset: number): Uint8Array | null {
    if (ethertype < 0x0600 || payloadOffset > data.length) return null;
    const s = this.scratch;
    s[12] = ethertype >> 8;
    s[13] = ethertype & 0xff;
    const payload = data.subarray(payloadOffset);
    s.set(payload, 14);
    return s.subarray(0, 14 + payload.length);
  }

  private toEthernet(from: number): FrameConverter | null {
    switch (from) {
      case LinkType.LINUX_SLL:
        return (d) => (d.length < 16 ? null : this.ethernet((d[14]! << 8) | d[15]!, d, 16));
      case LinkType.LINUX_SLL2:
        return (d) => (d.length < 20 ? null : this.ethernet((d[0]! << 8) | d[1]!, d, 20));
      case LinkType.RAW:
      case LinkType.IPV4:
      case LinkType.IPV6:
        return (d) => this.ethernet(ipEthertype(d, 0), d, 0);
      case LinkType.NULL:
      case LinkType.LOOP:
        return (d) => {
          if (d.length < 4) return null;
          const view = new DataView(d.buffer, d.byteOffset, 4);
          // DLT_NULL is in the capturing host's byte order: a family fits in the low 16 bits.
          const le = view.getUint32(0, true);
          return this.ethernet(familyEthertype(le <= 0xffff ? le : view.getUint32(0, false)), d, 4);
        };
      default:
        return null;
    }
  }

  private toRaw(from: number): FrameConverter | null {
    // The header's protocol field says IP (a VLAN tag or ARP whose next byte looks like an IP version must
    // not pass), and so does the first byte after it.
    const ipAt = (d: Uint8Array, offset: number, protocolAt = -1): Uint8Array | null => {
      if (d.length <= offset || ipEthertype(d, offset) === 0) return null;
      if (protocolAt >= 0 && ((d[protocolAt]! << 8) | d[protocolAt + 1]!) !== ipEthertype(d, offset))
        return null;
      return d.subarray(offset);
    };
    switch (from) {
      case LinkType.ETHERNET:
        return (d) => ipAt(d, 14, 12);
      case LinkType.LINUX_SLL:
        return (d) => ipAt(d, 16, 14);
      case LinkType.LINUX_SLL2:
        return (d) => ipAt(d, 20, 0);
      case LinkType.IPV4:
      case LinkType.IPV6:
        return (d) => ipAt(d, 0);
      default:
        return null;
    }
  }
}
