import { LinkType } from "@sluice/pcap-format";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { packetFields } from "./fields.js";
import { PacketDecoder } from "./packet-decoder.js";
import {
  ethernet,
  ieee8023,
  ipv4,
  ipv6,
  ipv6Fragment,
  snap,
  tcp,
  tcpFrame,
  udp,
  V4_A,
  V4_B,
  V6_A,
  V6_B,
} from "./testing/frames.js";

const LINK_TYPES = [
  LinkType.ETHERNET,
  LinkType.LINUX_SLL,
  LinkType.LINUX_SLL2,
  LinkType.RAW,
  LinkType.IPV4,
  LinkType.IPV6,
  LinkType.NULL,
  LinkType.LOOP,
  147,
];

describe("PacketDecoder", () => {
  it("decodes every IPv4 and TCP header field of a frame with options", () => {
    const frame = Uint8Array.from([
      ...ethernet(0x0800),
      ...ipv4({
        src: V4_A,
        dst: V4_B,
        protocol: 6,
        payloadLength: 28,
        id: 0xbeef,
        flags: 2,
        ttl: 17,
        tos: 0xb8,
        options: [0x94, 0x04, 0, 0],
      }),
      ...tcp({
        srcPort: 40000,
        dstPort: 443,
        seq: 0xfffffff0,
        ack: 7,
        flags: 0x1c2,
        window: 999,
        options: [2, 4, 5, 0xb4, 1, 1, 1, 0],
      }),
    ]);
    const f = packetFields({ seconds: 1, nanoseconds: 5, originalLength: 100, data: frame, linkType: 1 });
    expect(f).toMatchObject({
      timestamp: "1.000000005",
      captured_length: frame.length,
      original_length: 100,
      ip_version: 4,
      ip_internet_header_length: 24,
      ip_type_of_service: 0xb8,
      ip_datagram_total_length: 52,
      ip_identification: 0xbeef,
      ip_flags: 2,
      ip_fragment_offset: 0,
      ip_time_to_live: 17,
      protocol: 6,
      ip_checksum: 0x1234,
      src_ip: "10.0.0.1",
      dst_ip: "10.0.0.2",
      ip_options: "94040000",
      src_port: 40000,
      dest_port: 443,
      tcp_sequence_number: 0xfffffff0,
      tcp_acknowledgment_number: 7,
      tcp_data_offset: 28,
      tcp_flags: 0x1c2,
      tcp_window_size: 999,
      tcp_checksum: 0xabcd,
      tcp_urgent_pointer: 0,
      tcp_options: "020405b401010100",
      udp_segment_total_length: null,
      decode_stop: null,
    });
  });

  it("walks IPv6 extension headers to UDP and reports the fragment header", () => {
    const hopByHop = [44, 0, 1, 4, 0, 0, 0, 0]; // next: fragment; PadN
    const frame = Uint8Array.from([
      ...ethernet(0x86dd),
      ...ipv6({ src: V6_A, dst: V6_B, next: 0, payloadLength: 8 + 8 + 8 + 4, trafficClass: 0x2e }),
      ...hopByHop,
      ...ipv6Fragment(17, 0, true, 0xcafe0001),
      ...udp(5353, 53, 4),
      1,
      2,
      3,
      4,
    ]);
    const f = packetFields({
      seconds: 0,
      nanoseconds: 0,
      originalLength: frame.length,
      data: frame,
      linkType: 1,
    });
    expect(f).toMatchObject({
      ip_version: 6,
      ip_internet_header_length: 56,
      ip_type_of_service: 0x2e,
      ip_datagram_total_length: 68,
      ip_identification: 0xcafe0001,
      ip_fragment_offset: 0,
      ip_flags: null,
      ip_checksum: null,
      ip_options: null,
      protocol: 17,
      src_ip: "fd00::1",
      dst_ip: "fd00::2",
      src_port: 5353,
      dest_port: 53,
      udp_segment_total_length: 12,
      udp_checksum: 0x4321,
      decode_stop: null,
    });
  });

  it("stops at a later fragment without reading its payload as a transport header", () => {
    const frame = Uint8Array.from([
      ...ethernet(0x0800),
      ...ipv4({ src: V4_A, dst: V4_B, protocol: 17, payloadLength: 16, fragmentOffset: 185 }),
      ...new Array<number>(16).fill(0xee),
    ]);
    const f = packetFields({
      seconds: 0,
      nanoseconds: 0,
      originalLength: frame.length,
      data: frame,
      linkType: 1,
    });
    expect(f).toMatchObject({ protocol: 17, ip_fragment_offset: 185, src_port: null, udp_checksum: null });
  });

  it("says where a truncated frame stops and keeps the headers before it", () => {
    const frame = tcpFrame(1234, 80);
    const cut = frame.subarray(0, 14 + 20 + 10);
    const d = new PacketDecoder().decode(cut, LinkType.ETHERNET);
    expect([d.stop, d.stopLayer, d.stopOffset]).toEqual(["truncated", "tcp", 34]);
    expect([d.srcPort, d.dstPort, d.tcpSequence, d.tcpAcknowledgment]).toEqual([1234, 80, 1000, -1]);
    expect(d.ipTotalLength).toBe(50);
  });

  it("reports a bad IPv4 header length as malformed with the fields it could read", () => {
    const frame = tcpFrame(1, 2);
    frame[14] = 0x43;
    const d = new PacketDecoder().decode(frame, LinkType.ETHERNET);
    expect([d.stop, d.stopLayer, d.stopOffset, d.ipHeaderLength, d.transportOffset]).toEqual([
      "malformed",
      "ipv4",
      14,
      12,
      -1,
    ]);
  });

  it("decodes IP over 802.2 LLC: SNAP with an EtherType, and the IP SAP with a UI or an I-frame header", () => {
    const packet = [...ipv4({ src: V4_A, dst: V4_B, protocol: 17, payloadLength: 8 }), ...udp(53, 5353, 0)];
    const frames = {
      snap: ieee8023([...snap(0x0800), ...packet], 6),
      "snap 802.1H": ieee8023([...snap(0x0800, [0, 0, 0xf8]), ...packet]),
      "sap UI": ieee8023([0x06, 0x06, 0x03, ...packet]),
      "sap I-frame": ieee8023([0x06, 0x06, 0x00, 0x00, ...packet], 6),
    };
    for (const [name, bytes] of Object.entries(frames)) {
      const f = packetFields({
        seconds: 0,
        nanoseconds: 0,
        originalLength: 0,
        data: Uint8Array.from(bytes),
        linkType: 1,
      });
      expect([f.ip_version, f.src_ip, f.dst_ip, f.src_port, f.dest_port, f.decode_stop], name).toEqual([
        4,
        "10.0.0.1",
        "10.0.0.2",
        53,
        5353,
        null,
      ]);
      expect(f.ether_type, name).toBe(name.startsWith("snap") ? 0x0800 : null);
    }
  });

  it("ends an 802.3 frame at its length field: what follows is padding, not IP", () => {
    const d = new PacketDecoder();
    const packet = ipv4({ src: V4_A, dst: V4_B, protocol: 17, payloadLength: 0 });
    // The length covers the LLC header and 10 bytes of the IP header; the 30 bytes after it are padding.
    const bytes = Uint8Array.from([
      ...ieee8023([0x06, 0x06, 0x03, ...packet.slice(0, 10)]),
      ...packet.slice(10),
      0,
      0,
    ]);
    d.decode(bytes, LinkType.ETHERNET);
    expect([d.end, d.ipVersion, d.ipTimeToLive, d.ipSrcOffset, d.stop, d.stopLayer]).toEqual([
      27,
      4,
      64,
      -1,
      "truncated",
      "ipv4",
    ]);
  });

  it("leaves other LLC payloads undecoded: STP, vendor SNAP, supervisory frames, raw IPX", () => {
    const d = new PacketDecoder();
    const ip = ipv4({ src: V4_A, dst: V4_B, protocol: 17, payloadLength: 0 });
    for (const llc of [
      [0x42, 0x42, 0x03, 0, 0, 0, 0],
      [...snap(0x0800, [0, 0, 0x0c]), ...ip],
      [0x06, 0x06, 0x01, 0x00, ...ip],
      [0x07, 0x06, 0x03, ...ip],
      [0xff, 0xff, 0, 30, ...ip],
    ]) {
      d.decode(Uint8Array.from(ieee8023(llc)), LinkType.ETHERNET);
      expect([d.stop, d.stopLayer, d.stopOffset, d.ipVersion, d.etherType]).toEqual([
        "unsupported",
        "link",
        14,
        -1,
        -1,
      ]);
    }
  });

  it("reports link types it does not decode as unsupported at the first byte", () => {
    const d = new PacketDecoder().decode(new Uint8Array(40), 147);
    expect([d.stop, d.stopLayer, d.stopOffset]).toEqual(["unsupported", "link", 0]);
  });

  it("never throws on random bytes of any link type and keeps every offset inside the frame", () => {
    const decoder = new PacketDecoder();
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 200 }),
        fc.constantFrom(...LINK_TYPES),
        (bytes, linkType) => {
          decoder.decode(bytes, linkType);
          const offsets = [
            decoder.networkOffset,
            decoder.transportOffset,
            decoder.ipSrcOffset,
            decoder.tcpOptionsOffset + decoder.tcpOptionsLength,
            decoder.ipOptionsOffset + decoder.ipOptionsLength,
          ];
          for (const offset of offsets) expect(offset).toBeLessThanOrEqual(bytes.length);
          if (decoder.ipSrcOffset >= 0) {
            expect(decoder.ipDstOffset + decoder.ipAddressLength).toBeLessThanOrEqual(bytes.length);
          }
          expect(() =>
            packetFields({ seconds: 0, nanoseconds: 0, originalLength: 0, data: bytes, linkType }),
          ).not.toThrow();
        },
      ),
      { numRuns: 20_000 },
    );
  });

  it("never throws on random headers behind a valid Ethernet, VLAN or MPLS prefix", () => {
    const decoder = new PacketDecoder();
    const prefixes = [
      ethernet(0x0800),
      ethernet(0x86dd),
      [...ethernet(0x8100), 0, 5, 0x08, 0x00],
      [...ethernet(0x8847), 0, 1, 0x01, 0x40],
      [...ethernet(0x0800), 0x45, 0, 0, 200, 0, 0, 0, 0, 64, 6, 0, 0, ...V4_A, ...V4_B],
      [...ethernet(0x86dd), 0x60, 0, 0, 0, 0, 100, 0, 64, ...V6_A, ...V6_B],
      [...ethernet(60), 0x06, 0x06, 0x03],
      [...ethernet(40), ...snap(0x0800)],
      [...ethernet(1500), ...snap(0x8100)],
    ];
    fc.assert(
      fc.property(fc.constantFrom(...prefixes), fc.uint8Array({ maxLength: 120 }), (prefix, tail) => {
        const bytes = Uint8Array.from([...prefix, ...tail]);
        expect(() => decoder.decode(bytes, LinkType.ETHERNET)).not.toThrow();
      }),
      { numRuns: 20_000 },
    );
  });
});
