import { readFileSync } from "node:fs";
import { LinkType, type PacketRecord, PcapWriter, readCaptureSync } from "@sluice/pcap-format";

/** The Ethernet frames of a capture file. */
export function ethernetFrames(path: string): PacketRecord[] {
  const capture = readCaptureSync(readFileSync(path));
  return capture.packets.filter((p) => p.linkType === LinkType.ETHERNET);
}

/** Writes frames of one link type, keeping each record's timestamp. */
export async function writeFrames(
  path: string,
  linkType: number,
  frames: { record: PacketRecord; data: Uint8Array }[],
): Promise<void> {
  const writer = PcapWriter.create(path, { linkType, precision: "nano" });
  for (const { record, data } of frames) {
    writer.writePacket({ seconds: record.seconds, nanoseconds: record.nanoseconds, data });
  }
  await writer.close();
}

const u16 = (n: number): number[] => [(n >> 8) & 0xff, n & 0xff];

/** Which tags a frame got in `vlanTagged`: one 802.1Q tag, two 802.1Q tags, or 802.1ad outside 802.1Q. */
export type TagKind = "single" | "double" | "qinq";

/** Ethernet frames with VLAN tags inserted after the MACs, cycling single, double and 802.1ad QinQ tags. */
export function vlanTagged(
  frames: PacketRecord[],
): { record: PacketRecord; data: Uint8Array; kind: TagKind; ids: number[] }[] {
  return frames.map((record, i) => {
    const kind: TagKind = (["single", "double", "qinq"] as const)[i % 3]!;
    const outer = (i % 4000) + 10;
    const inner = ((i * 7) % 4000) + 5;
    const tags =
      kind === "single"
        ? [...u16(0x8100), ...u16(0x2000 | outer)]
        : [...u16(kind === "qinq" ? 0x88a8 : 0x8100), ...u16(outer), ...u16(0x8100), ...u16(inner)];
    const d = record.data;
    const data = Uint8Array.from([...d.subarray(0, 12), ...tags, ...d.subarray(12)]);
    return { record, data, kind, ids: kind === "single" ? [outer] : [outer, inner] };
  });
}

/** IP frames with their EtherType replaced by an MPLS label stack (one or two labels). */
export function mplsLabelled(
  frames: PacketRecord[],
): { record: PacketRecord; data: Uint8Array; labels: number[] }[] {
  return ipFrames(frames).map((record, i) => {
    const labels = i % 2 === 0 ? [16 + i] : [1000 + i, 2000 + i];
    const stack = labels.flatMap((label, j) => {
      const entry = (label << 12) | (j === labels.length - 1 ? 0x100 : 0) | 64;
      return [(entry >>> 24) & 0xff, (entry >>> 16) & 0xff, (entry >>> 8) & 0xff, entry & 0xff];
    });
    const d = record.data;
    const data = Uint8Array.from([...d.subarray(0, 12), ...u16(0x8847), ...stack, ...d.subarray(14)]);
    return { record, data, labels };
  });
}

/** Linux cooked (SLL) frames carrying the same network layer, with the Ethernet source as the address. */
export function sllFrames(frames: PacketRecord[]): { record: PacketRecord; data: Uint8Array }[] {
  return frames.map((record) => {
    const d = record.data;
    const header = [...u16(0), ...u16(1), ...u16(6), ...d.subarray(6, 12), 0, 0, ...d.subarray(12, 14)];
    return { record, data: Uint8Array.from([...header, ...d.subarray(14)]) };
  });
}

/** Linux cooked v2 (SLL2) frames: protocol, reserved, ifindex, hatype, packet type, address length, address. */
export function sll2Frames(frames: PacketRecord[]): { record: PacketRecord; data: Uint8Array }[] {
  return frames.map((record) => {
    const d = record.data;
    const header = [...d.subarray(12, 14), 0, 0, 0, 0, 0, 3, ...u16(1), 4, 6, ...d.subarray(6, 12), 0, 0];
    return { record, data: Uint8Array.from([...header, ...d.subarray(14)]) };
  });
}

/** Raw IP frames (LINKTYPE_RAW): the Ethernet header removed from IP frames. */
export function rawIpFrames(frames: PacketRecord[]): { record: PacketRecord; data: Uint8Array }[] {
  return ipFrames(frames).map((record) => ({ record, data: record.data.slice(14) }));
}

function ipFrames(frames: PacketRecord[]): PacketRecord[] {
  return frames.filter((f) => {
    const type = (f.data[12]! << 8) | f.data[13]!;
    return type === 0x0800 || type === 0x86dd;
  });
}

/**
 * randpkt writes some types as Token Ring or FDDI frames with LLC/SNAP; these become Ethernet frames with
 * the SNAP EtherType so both tshark and the decoder read the same IP bytes. Other records pass unchanged.
 */
export function snapToEthernet(records: PacketRecord[]): { record: PacketRecord; data: Uint8Array }[] {
  return records.map((record) => {
    const d = record.data;
    const at = record.linkType === 6 ? 14 : record.linkType === 10 ? 13 : -1;
    if (at < 0 || d.length < at + 8 || d[at] !== 0xaa || d[at + 1] !== 0xaa || d[at + 2] !== 0x03) {
      return { record, data: d };
    }
    const data = Uint8Array.from([...d.subarray(at - 12, at), ...d.subarray(at + 6)]);
    return { record, data };
  });
}

/** How `llcEncapsulated` carried a frame's IP datagram over 802.2 LLC. */
export type LlcKind = "snap" | "sap-ui" | "sap-i-frame";

const LLC_HEADERS: Record<LlcKind, (etherType: number) => number[]> = {
  snap: (etherType) => [0xaa, 0xaa, 0x03, 0, 0, 0, ...u16(etherType)],
  "sap-ui": () => [0x06, 0x06, 0x03],
  "sap-i-frame": () => [0x06, 0x06, 0x00, 0x01],
};

/**
 * IP frames as 802.3 frames: each datagram behind an 802.2 LLC header, in turn SNAP (RFC 1042), the IP SAP
 * with a UI header and with an I-frame header, then 4 bytes of padding past the length field. Datagrams too
 * long for an 802.3 length (1500 with the LLC header) are left out.
 */
export function llcEncapsulated(
  frames: PacketRecord[],
): { record: PacketRecord; data: Uint8Array; kind: LlcKind }[] {
  const kinds = Object.keys(LLC_HEADERS) as LlcKind[];
  return ipFrames(frames)
    .map((record, i) => {
      const kind = kinds[i % kinds.length]!;
      const llc = LLC_HEADERS[kind]((record.data[12]! << 8) | record.data[13]!);
      const ip = record.data.subarray(14);
      const data = Uint8Array.from([
        ...record.data.subarray(0, 12),
        ...u16(llc.length + ip.length),
        ...llc,
        ...ip,
        0,
        0,
        0,
        0,
      ]);
      return { record, data, kind };
    })
    .filter(({ data }) => data.length - 18 <= 1500);
}
