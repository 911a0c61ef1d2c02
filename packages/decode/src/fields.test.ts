import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LinkType, readCaptureSync } from "@sluice/pcap-format";
import { labUnavailableReason, missingTools, randpkt, withLab } from "@sluice/testlab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PacketFields, packetFields } from "./fields.js";
import { PacketDecoder } from "./packet-decoder.js";
import {
  ethernetFrames,
  llcEncapsulated,
  mplsLabelled,
  rawIpFrames,
  sll2Frames,
  sllFrames,
  snapToEthernet,
  vlanTagged,
  writeFrames,
} from "./testing/craft.js";
import {
  expectedFrom,
  expectedTransport,
  pick,
  type TsharkRow,
  tsharkFields,
} from "./testing/tshark-fields.js";

const toolsMissing = missingTools("tshark", "randpkt");
const labMissing = labUnavailableReason();
if (toolsMissing) console.warn(`skipping decode/tshark tests: ${toolsMissing}`);
if (labMissing) console.warn(`skipping decode lab tests: the traffic lab needs ${labMissing}`);

let dir = "";
const path = (name: string): string => join(dir, name);

function ourFields(file: string): PacketFields[] {
  const decoder = new PacketDecoder();
  return readCaptureSync(readFileSync(file)).packets.map((p) => packetFields(p, decoder));
}

/** Compares every frame's IP and transport fields with tshark's; returns how many frames had each layer. */
async function compareWithTshark(file: string, options: { strictPresence: boolean }) {
  const rows = await tsharkFields(file);
  const ours = ourFields(file);
  expect(ours.length).toBe(rows.length);
  const seen = { ipv4: 0, ipv6: 0, tcp: 0, udp: 0, fragments: 0, vlan: 0 };
  const mismatches: object[] = [];
  rows.forEach((row, i) => {
    const f = ours[i]!;
    const expected = expectedFrom(row);
    const transport = transportComparable(row, f) ? expectedTransport(row) : {};
    const want = { ...expected, ...transport };
    const got = pick(f, want);
    if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push({ frame: i + 1, want, got });
    if (options.strictPresence) {
      // tshark found no IP where we did (or the reverse), or TCP/UDP ports on one side only.
      if ((expected.src_ip === undefined) !== (f.src_ip === null))
        mismatches.push({ frame: i + 1, ip: f.src_ip });
      if (transportComparable(row, f) && (transport.src_port === undefined) !== (f.src_port === null)) {
        mismatches.push({ frame: i + 1, port: f.src_port });
      }
    }
    if (f.ip_version === 4 && f.src_ip !== null) seen.ipv4++;
    if (f.ip_version === 6 && f.src_ip !== null) seen.ipv6++;
    if (f.tcp_flags !== null) seen.tcp++;
    if (f.udp_checksum !== null) seen.udp++;
    if (f.ip_fragment_offset !== null && (f.ip_fragment_offset > 0 || (f.ip_flags ?? 0) & 1))
      seen.fragments++;
    if (f.vlan_id !== null) seen.vlan++;
  });
  expect(mismatches.slice(0, 5)).toEqual([]);
  return { frames: rows.length, ...seen, rows, ours };
}

// tshark shows the TCP/UDP header of the packet inside an ICMP error or a tunnel too; we decode the outer one.
function transportComparable(row: TsharkRow, f: PacketFields): boolean {
  const outer = row["ip.version"] === 6 ? f.protocol : row["ip.proto"];
  return (outer === 6 || outer === 17) && f.protocol === outer;
}

describe.skipIf(toolsMissing !== null)("packetFields against tshark", () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "sluice-decode-"));
    if (labMissing) return;
    await withLab(async (lab) => {
      const capture = await lab.capture(path("lab.pcap"), { precision: "nano" });
      await lab.http({ requests: 24, responseBytes: [0, 20_000], concurrency: 4 });
      await lab.http({ requests: 12, responseBytes: [0, 8000], ipv6: true });
      await lab.udp({ packets: 30, size: [40, 3500], receiver: "echo" });
      await lab.udp({ packets: 20, size: [40, 3500], receiver: "echo", ipv6: true });
      await lab.udp({ packets: 5, size: 100 }); // to a closed port: ICMP port unreachable quoting UDP
      await lab.ping({ count: 3, size: 4000 });
      await lab.ping({ count: 3, size: 4000, ipv6: true });
      await capture.stop();
    });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  describe.skipIf(labMissing !== null)("on lab traffic", () => {
    it("agrees on every IPv4, IPv6, TCP and UDP field, fragments included", async () => {
      const seen = await compareWithTshark(path("lab.pcap"), { strictPresence: true });
      expect(seen.ipv4).toBeGreaterThan(100);
      expect(seen.ipv6).toBeGreaterThan(50);
      expect(seen.tcp).toBeGreaterThan(100);
      expect(seen.udp).toBeGreaterThan(40);
      expect(seen.fragments).toBeGreaterThan(20);
    });

    it("agrees on 802.1Q, double-tagged and 802.1ad QinQ frames, VLAN IDs included", async () => {
      const tagged = vlanTagged(ethernetFrames(path("lab.pcap")));
      await writeFrames(path("vlan.pcap"), LinkType.ETHERNET, tagged);
      const { rows, ours, vlan } = await compareWithTshark(path("vlan.pcap"), { strictPresence: true });
      expect(vlan).toBe(tagged.length);
      tagged.forEach(({ kind, ids }, i) => {
        expect([ours[i]!.vlan_id, ours[i]!.inner_vlan_id]).toEqual([ids[0], ids[1] ?? null]);
        // tshark files an 802.1ad outer tag under ieee8021ad.id, so vlan.id is then the inner one.
        expect(rows[i]!["vlan.id"]).toBe(kind === "qinq" ? ids[1] : ids[0]);
      });
    });

    it("agrees on IP under one or two MPLS labels", async () => {
      const labelled = mplsLabelled(ethernetFrames(path("lab.pcap")));
      await writeFrames(path("mpls.pcap"), LinkType.ETHERNET, labelled);
      const { ours } = await compareWithTshark(path("mpls.pcap"), { strictPresence: true });
      expect(ours.map((f) => f.mpls_label)).toEqual(labelled.map((l) => l.labels[0]));
    });

    it("agrees on IP carried over 802.2 LLC: SNAP, and the IP SAP with UI and I-frame headers", async () => {
      const framed = llcEncapsulated(ethernetFrames(path("lab.pcap")));
      await writeFrames(path("llc.pcap"), LinkType.ETHERNET, framed);
      const { ours, ipv4, ipv6 } = await compareWithTshark(path("llc.pcap"), { strictPresence: true });
      expect(ipv4 + ipv6).toBe(framed.length);
      for (const kind of ["snap", "sap-ui", "sap-i-frame"]) {
        expect(framed.filter((f) => f.kind === kind).length).toBeGreaterThan(50);
      }
      expect(ours.map((f) => f.ether_type)).toEqual(
        framed.map((f) => (f.kind === "snap" ? (f.record.data[12]! << 8) | f.record.data[13]! : null)),
      );
    });

    it("agrees on Linux cooked (SLL and SLL2) and raw IP captures", async () => {
      const frames = ethernetFrames(path("lab.pcap"));
      await writeFrames(path("sll.pcap"), LinkType.LINUX_SLL, sllFrames(frames));
      await writeFrames(path("sll2.pcap"), LinkType.LINUX_SLL2, sll2Frames(frames));
      await writeFrames(path("raw.pcap"), LinkType.RAW, rawIpFrames(frames));
      for (const name of ["sll.pcap", "sll2.pcap", "raw.pcap"]) {
        const { ipv4, ipv6 } = await compareWithTshark(path(name), { strictPresence: true });
        expect(ipv4 + ipv6).toBeGreaterThan(200);
      }
      const sll = ourFields(path("sll.pcap"));
      expect(sll[0]!.src_mac).toBe(ourFields(path("lab.pcap"))[0]!.src_mac);
    });
  });

  describe("on randpkt captures", () => {
    for (const type of ["ip", "ipv6", "tcp", "udp", "icmp", "sctp", "eth"]) {
      it(`agrees with tshark wherever tshark decoded a field of random "${type}" packets`, async () => {
        const file = path(`rand-${type}.pcap`);
        randpkt(path(`rand-${type}-raw.pcap`), type, 400, 300);
        const records = readCaptureSync(readFileSync(path(`rand-${type}-raw.pcap`))).packets;
        await writeFrames(file, LinkType.ETHERNET, snapToEthernet(records));
        const { frames, ipv4, ipv6 } = await compareWithTshark(file, { strictPresence: false });
        expect(frames).toBe(400);
        if (type !== "eth") expect(ipv4 + ipv6).toBeGreaterThan(0);
      });
    }
  });
});
