import { LinkType } from "@sluice/pcap-format";
import { describe, expect, it } from "vitest";
import { ReplayError } from "./errors.js";
import { LinkConverter, parseMac } from "./link-convert.js";

const macs = {
  src: parseMac("02:00:00:00:00:0a", "macs.src"),
  dst: parseMac("02-00-00-00-00-0b", "macs.dst"),
};
const ipv4 = Buffer.from("4500001c000000004011000001020304050607080000000000080000", "hex");
const ipv6 = Buffer.concat([Buffer.from([0x60]), Buffer.alloc(47)]);
const toHex = (frame: Uint8Array | null) => (frame ? Buffer.from(frame).toString("hex") : null);
const eth = (ethertype: string, payload: Buffer) =>
  `02000000000b02000000000a${ethertype}${payload.toString("hex")}`;

describe("LinkConverter to Ethernet", () => {
  const c = new LinkConverter(LinkType.ETHERNET, macs);
  const where = { path: "x.pcap" };

  it("passes Ethernet frames through untouched", () => {
    const frame = Buffer.from("ffffffffffff0200000000010806", "hex");
    expect(c.for(LinkType.ETHERNET, where)(frame)).toBe(frame);
  });

  it("rebuilds SLL and SLL2 records with the configured MACs and the cooked protocol", () => {
    const sll = Buffer.concat([Buffer.from("00000001000602aa00000001000086dd", "hex"), ipv6]);
    expect(toHex(c.for(LinkType.LINUX_SLL, where)(sll))).toBe(eth("86dd", ipv6));
    const sll2 = Buffer.concat([Buffer.from("0800000000000002000100060200000000010000", "hex"), ipv4]);
    expect(toHex(c.for(LinkType.LINUX_SLL2, where)(sll2))).toBe(eth("0800", ipv4));
  });

  it("gives raw IP and BSD loopback records the ethertype of their IP version", () => {
    expect(toHex(c.for(LinkType.RAW, where)(ipv4))).toBe(eth("0800", ipv4));
    expect(toHex(c.for(LinkType.RAW, where)(ipv6))).toBe(eth("86dd", ipv6));
    expect(toHex(c.for(LinkType.NULL, where)(Buffer.concat([Buffer.from([2, 0, 0, 0]), ipv4])))).toBe(
      eth("0800", ipv4),
    );
    expect(toHex(c.for(LinkType.LOOP, where)(Buffer.concat([Buffer.from([0, 0, 0, 30]), ipv6])))).toBe(
      eth("86dd", ipv6),
    );
  });

  it("returns null for a record it cannot convert: a short header, a non-Ethernet protocol, no IP version", () => {
    expect(c.for(LinkType.LINUX_SLL, where)(Buffer.alloc(10))).toBeNull();
    expect(
      c.for(LinkType.LINUX_SLL, where)(Buffer.from("00000001000602aa0000000100000004abcd", "hex")),
    ).toBeNull();
    expect(c.for(LinkType.RAW, where)(Buffer.from("20000000", "hex"))).toBeNull();
  });

  it("throws unsupported-linktype naming both link types and where", () => {
    try {
      c.for(10, where);
      expect.unreachable();
    } catch (error) {
      expect(ReplayError.isInstance(error)).toBe(true);
      expect((error as ReplayError).reason).toBe("unsupported-linktype");
      expect((error as ReplayError).detail).toEqual({ path: "x.pcap", linkType: 10, outputLinkType: 1 });
      expect((error as Error).message).toContain("ETHERNET (1)");
    }
  });
});

describe("LinkConverter to raw IP", () => {
  it("strips Ethernet and cooked headers from IP packets", () => {
    const c = new LinkConverter(LinkType.RAW, macs);
    const frame = Buffer.concat([Buffer.from("02000000000b02000000000a0800", "hex"), ipv4]);
    expect(toHex(c.for(LinkType.ETHERNET, {})(frame))).toBe(ipv4.toString("hex"));
    expect(c.for(LinkType.ETHERNET, {})(Buffer.from("02000000000b02000000000a0806aaaa", "hex"))).toBeNull();
    // A VLAN tag whose priority bits make its first byte look like IPv4 (0x45...) is not IP.
    const tagged = Buffer.concat([Buffer.from("02000000000b02000000000a8100", "hex"), ipv4]);
    expect(c.for(LinkType.ETHERNET, {})(tagged)).toBeNull();
  });
});

describe("parseMac", () => {
  it("rejects what is not a MAC with bad-option naming the option", () => {
    expect(() => parseMac("02:00:00:00:00", "macs.src")).toThrow(/macs.src "02:00:00:00:00" is not a MAC/);
  });
});
