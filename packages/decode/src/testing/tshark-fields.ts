import { tool } from "@sluice/testlab";
import type { PacketFields } from "../fields.js";

// The tshark side of the field comparison: which tshark field answers for which of ours, and how it prints.
const COLUMNS = [
  ["ip.version", "dec"],
  ["ip.hdr_len", "dec"],
  ["ip.dsfield", "hex"],
  ["ip.len", "dec"],
  ["ip.id", "hex"],
  ["ip.flags", "hex"],
  ["ip.frag_offset", "dec"],
  ["ip.ttl", "dec"],
  ["ip.proto", "dec"],
  ["ip.checksum", "hex"],
  ["ip.src", "text"],
  ["ip.dst", "text"],
  ["tcp.srcport", "dec"],
  ["tcp.dstport", "dec"],
  ["tcp.seq_raw", "dec"],
  ["tcp.ack_raw", "dec"],
  ["tcp.hdr_len", "dec"],
  ["tcp.flags", "hex"],
  ["tcp.window_size_value", "dec"],
  ["tcp.checksum", "hex"],
  ["tcp.urgent_pointer", "dec"],
  ["udp.srcport", "dec"],
  ["udp.dstport", "dec"],
  ["udp.length", "dec"],
  ["udp.checksum", "hex"],
  ["ipv6.tclass", "hex"],
  ["ipv6.plen", "dec"],
  ["ipv6.nxt", "dec"],
  ["ipv6.hlim", "dec"],
  ["ipv6.src", "text"],
  ["ipv6.dst", "text"],
  ["ipv6.fraghdr.nxt", "dec"],
  ["ipv6.fraghdr.offset", "dec"],
  ["ipv6.fraghdr.ident", "hex"],
  ["ipv6.hopopts.nxt", "dec"],
  ["vlan.id", "dec"],
  ["eth.src", "text"],
  ["eth.dst", "text"],
] as const;

type Column = (typeof COLUMNS)[number][0];
/** One frame's tshark fields: numbers parsed (hex or decimal as tshark prints them), "" as null. */
export type TsharkRow = Record<Column, number | string | null>;

/** `tshark -T fields` for every field we compare, first occurrence, without IP reassembly. */
export async function tsharkFields(path: string): Promise<TsharkRow[]> {
  const args = ["-n", "-r", path, "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE"];
  args.push("-T", "fields", "-E", "occurrence=f");
  for (const [name] of COLUMNS) args.push("-e", name);
  const out = await tool("tshark", args);
  return out
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => {
      const cells = line.split("\t");
      const row = {} as Record<string, number | string | null>;
      COLUMNS.forEach(([name, kind], i) => {
        const cell = cells[i] ?? "";
        row[name] = cell === "" ? null : kind === "text" ? cell : Number(cell);
      });
      return row as TsharkRow;
    });
}

/** What tshark says about the fields it printed, under our names; fields tshark left empty are left out. */
export function expectedFrom(row: TsharkRow): Partial<PacketFields> {
  const out: Record<string, unknown> = {};
  const put = (ours: keyof PacketFields, value: number | string | null): void => {
    if (value !== null) out[ours] = value;
  };
  // ip.version comes from whichever IP header tshark met first; ipv6.* may be a header quoted inside ICMP.
  if (row["ip.version"] === 6) {
    put("ip_version", 6);
    put("ip_type_of_service", row["ipv6.tclass"]);
    put("ip_datagram_total_length", row["ipv6.plen"] === null ? null : Number(row["ipv6.plen"]) + 40);
    put("ip_time_to_live", row["ipv6.hlim"]);
    put("src_ip", row["ipv6.src"]);
    put("dst_ip", row["ipv6.dst"]);
    put("ip_identification", row["ipv6.fraghdr.ident"]);
    put("ip_fragment_offset", row["ipv6.fraghdr.offset"]);
    put("protocol", ipv6Transport(row));
  } else {
    put("ip_version", row["ip.version"]);
    put("ip_internet_header_length", row["ip.hdr_len"]);
    put("ip_type_of_service", row["ip.dsfield"]);
    put("ip_datagram_total_length", row["ip.len"]);
    put("ip_identification", row["ip.id"]);
    put("ip_flags", row["ip.flags"]);
    put("ip_fragment_offset", row["ip.frag_offset"]);
    put("ip_time_to_live", row["ip.ttl"]);
    put("protocol", row["ip.proto"]);
    put("ip_checksum", row["ip.checksum"]);
    put("src_ip", row["ip.src"]);
    put("dst_ip", row["ip.dst"]);
  }
  return out as Partial<PacketFields>;
}

const EXTENSIONS = new Set([0, 43, 44, 51, 60, 135, 139, 140]);

// Our protocol is the next header after the extension chain; tshark prints no single field for that, so
// compare it only for chains of at most one hop-by-hop or fragment header, where it is unambiguous.
function ipv6Transport(row: TsharkRow): number | null {
  const first = row["ipv6.nxt"] as number | null;
  if (first === null) return null;
  if (!EXTENSIONS.has(first)) return first;
  const second = (first === 44 ? row["ipv6.fraghdr.nxt"] : first === 0 ? row["ipv6.hopopts.nxt"] : null) as
    | number
    | null;
  return second !== null && !EXTENSIONS.has(second) ? second : null;
}

/** The transport fields tshark printed, under our names (TCP or UDP, whichever it decoded). */
export function expectedTransport(row: TsharkRow): Partial<PacketFields> {
  const out: Record<string, unknown> = {};
  const put = (ours: keyof PacketFields, value: number | string | null): void => {
    if (value !== null) out[ours] = value;
  };
  if (row["tcp.srcport"] !== null) {
    put("src_port", row["tcp.srcport"]);
    put("dest_port", row["tcp.dstport"]);
    put("tcp_sequence_number", row["tcp.seq_raw"]);
    put("tcp_acknowledgment_number", row["tcp.ack_raw"]);
    put("tcp_data_offset", row["tcp.hdr_len"]);
    put("tcp_flags", row["tcp.flags"]);
    put("tcp_window_size", row["tcp.window_size_value"]);
    put("tcp_checksum", row["tcp.checksum"]);
    put("tcp_urgent_pointer", row["tcp.urgent_pointer"]);
  } else if (row["udp.srcport"] !== null) {
    put("src_port", row["udp.srcport"]);
    put("dest_port", row["udp.dstport"]);
    put("udp_segment_total_length", row["udp.length"]);
    put("udp_checksum", row["udp.checksum"]);
  }
  return out as Partial<PacketFields>;
}

/** Our fields restricted to the keys of `expected`, for a toEqual that names every difference. */
export function pick(fields: PacketFields, expected: object): Partial<PacketFields> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(expected)) out[key] = fields[key as keyof PacketFields];
  return out as Partial<PacketFields>;
}
