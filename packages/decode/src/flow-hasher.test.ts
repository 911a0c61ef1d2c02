import { LinkType } from "@sluice/pcap-format";
import { describe, expect, it } from "vitest";
import { FlowHasher, flowHash } from "./flow-hasher.js";
import { Rendezvous } from "./rendezvous.js";
import {
  ethernet,
  ipv4,
  ipv6,
  ipv6Fragment,
  tcpFrame,
  udp,
  V4_A,
  V4_B,
  V6_A,
  V6_B,
} from "./testing/frames.js";

const ETH = LinkType.ETHERNET;

function udpFragments(id: number, srcPort: number): Uint8Array[] {
  const first = Uint8Array.from([
    ...ethernet(0x0800),
    ...ipv4({ src: V4_A, dst: V4_B, protocol: 17, payloadLength: 16, id, flags: 1 }),
    ...udp(srcPort, 53, 8),
    ...new Array<number>(8).fill(1),
  ]);
  const last = Uint8Array.from([
    ...ethernet(0x0800),
    ...ipv4({ src: V4_A, dst: V4_B, protocol: 17, payloadLength: 8, id, fragmentOffset: 2 }),
    ...new Array<number>(8).fill(2),
  ]);
  return [first, last];
}

describe("FlowHasher", () => {
  // The master's flow pools and `sluice-pcap split --nodes` (maybe another version, on another host) must
  // agree: a change of the mixing, the tags or the seeds fails here instead of moving sessions silently.
  it("keeps its hash values and rendezvous choices from one version to the next", () => {
    const five = new FlowHasher();
    const two = new FlowHasher({ key: "2-tuple" });
    const a = five.hash(tcpFrame(40000, 80), ETH);
    const b = five.hash(tcpFrame(40001, 443), ETH);
    const c = two.hash(tcpFrame(40000, 80), ETH);
    expect([a, b, c]).toEqual([1066932847, 102438885, 1711576797]);
    const nodes = new Rendezvous(["node01", "node02", "node03"]);
    expect([a, b, c].map((h) => nodes.pick(h))).toEqual([0, 0, 1]);
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((x) => nodes.pick((x * 2654435761) >>> 1))).toEqual([
      2, 1, 1, 0, 2, 1, 0, 0,
    ]);
  });

  it("gives both directions of a TCP connection the same hash", () => {
    const hasher = new FlowHasher();
    expect(hasher.hash(tcpFrame(40000, 80), ETH)).toBe(hasher.hash(tcpFrame(40000, 80, true), ETH));
  });

  it("tells connections apart by port with the 5-tuple and not with the 2-tuple", () => {
    const five = new FlowHasher();
    const two = new FlowHasher({ key: "2-tuple" });
    expect(five.hash(tcpFrame(40000, 80), ETH)).not.toBe(five.hash(tcpFrame(40001, 80), ETH));
    expect(two.hash(tcpFrame(40000, 80), ETH)).toBe(two.hash(tcpFrame(40001, 80, true), ETH));
  });

  it("gives an IPv4 fragment the flow of its datagram's first fragment", () => {
    const hasher = new FlowHasher();
    const [first, last] = udpFragments(0x4242, 5000);
    const whole = Uint8Array.from([
      ...ethernet(0x0800, true),
      ...ipv4({ src: V4_B, dst: V4_A, protocol: 17, payloadLength: 12 }),
      ...udp(53, 5000, 4),
      1,
      2,
      3,
      4,
    ]);
    const flow = hasher.hash(whole, ETH);
    expect(hasher.hash(first!, ETH)).toBe(flow);
    expect(hasher.hash(last!, ETH)).toBe(flow);
  });

  it("falls back to the 2-tuple for a fragment seen before its first", () => {
    const hasher = new FlowHasher();
    const [, last] = udpFragments(0x5151, 5000);
    const twoTuple = new FlowHasher({ key: "2-tuple" }).hash(last!, ETH);
    expect(hasher.hash(last!, ETH)).toBe(twoTuple);
  });

  it("gives an IPv6 fragment the flow of its first fragment", () => {
    const hasher = new FlowHasher();
    const first = Uint8Array.from([
      ...ethernet(0x86dd),
      ...ipv6({ src: V6_A, dst: V6_B, next: 44, payloadLength: 24 }),
      ...ipv6Fragment(17, 0, true, 77),
      ...udp(6000, 53, 8),
      ...new Array<number>(8).fill(0),
    ]);
    const later = Uint8Array.from([
      ...ethernet(0x86dd),
      ...ipv6({ src: V6_A, dst: V6_B, next: 44, payloadLength: 16 }),
      ...ipv6Fragment(17, 2, false, 77),
      ...new Array<number>(8).fill(0),
    ]);
    const reply = Uint8Array.from([
      ...ethernet(0x86dd, true),
      ...ipv6({ src: V6_B, dst: V6_A, next: 17, payloadLength: 8 }),
      ...udp(53, 6000, 0),
    ]);
    const flow = hasher.hash(reply, ETH);
    expect(hasher.hash(first, ETH)).toBe(flow);
    expect(hasher.hash(later, ETH)).toBe(flow);
  });

  it("hashes non-IP frames by their MAC pair, the same in both directions", () => {
    const hasher = new FlowHasher();
    const arp = (swapped: boolean) =>
      Uint8Array.from([...ethernet(0x0806, swapped), ...new Array<number>(28).fill(swapped ? 1 : 2)]);
    expect(hasher.hash(arp(false), ETH)).toBe(hasher.hash(arp(true), ETH));
    const other = Uint8Array.from(arp(false));
    other[5] = 0x77;
    expect(hasher.hash(other, ETH)).not.toBe(hasher.hash(arp(false), ETH));
  });

  it("spreads 10,000 flows evenly over 8 buckets", () => {
    const hasher = new FlowHasher();
    const buckets = new Array<number>(8).fill(0);
    for (let port = 10000; port < 20000; port++) buckets[hasher.hash(tcpFrame(port, 443), ETH) % 8]!++;
    for (const count of buckets) expect(count).toBeGreaterThan(1250 * 0.85);
  });

  it("flowHash hashes a record by its data and link type", () => {
    const data = tcpFrame(1, 2);
    expect(flowHash({ data, linkType: ETH })).toBe(new FlowHasher().hash(data, ETH));
  });
});
