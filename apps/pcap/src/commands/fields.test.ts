import { execFile, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  capinfos,
  editcap,
  labUnavailableReason,
  makeLabCapture,
  missingTools,
  tool,
  withLab,
} from "@sluice/testlab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const CLI = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));
const skip = !existsSync(CLI)
  ? `${CLI} is not built (npm run build)`
  : (missingTools("tshark", "editcap", "capinfos") ?? labUnavailableReason());
if (skip) console.warn(`skipping sluice-pcap fields tests: ${skip}`);

function sluicePcap(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("node", [CLI, ...args], { maxBuffer: 1 << 28 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

const lines = (text: string): Record<string, unknown>[] =>
  text
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

// tshark field, our field, and how tshark prints it.
const ORACLE: [string, string, "dec" | "hex" | "text"][] = [
  ["ip.version", "ip_version", "dec"],
  ["ip.hdr_len", "ip_internet_header_length", "dec"],
  ["ip.dsfield", "ip_type_of_service", "hex"],
  ["ip.len", "ip_datagram_total_length", "dec"],
  ["ip.id", "ip_identification", "hex"],
  ["ip.flags", "ip_flags", "hex"],
  ["ip.frag_offset", "ip_fragment_offset", "dec"],
  ["ip.ttl", "ip_time_to_live", "dec"],
  ["ip.proto", "protocol", "dec"],
  ["ip.checksum", "ip_checksum", "hex"],
  ["ip.src", "src_ip", "text"],
  ["ip.dst", "dst_ip", "text"],
  ["tcp.srcport", "src_port", "dec"],
  ["tcp.dstport", "dest_port", "dec"],
  ["tcp.seq_raw", "tcp_sequence_number", "dec"],
  ["tcp.ack_raw", "tcp_acknowledgment_number", "dec"],
  ["tcp.hdr_len", "tcp_data_offset", "dec"],
  ["tcp.flags", "tcp_flags", "hex"],
  ["tcp.window_size_value", "tcp_window_size", "dec"],
  ["tcp.checksum", "tcp_checksum", "hex"],
  ["tcp.urgent_pointer", "tcp_urgent_pointer", "dec"],
  ["udp.srcport", "src_port", "dec"],
  ["udp.dstport", "dest_port", "dec"],
  ["udp.length", "udp_segment_total_length", "dec"],
  ["udp.checksum", "udp_checksum", "hex"],
  ["ipv6.src", "src_ip", "text"],
  ["ipv6.dst", "dst_ip", "text"],
  ["ipv6.hlim", "ip_time_to_live", "dec"],
];

/** What tshark says, under our names, for the IPv4/IPv6 frames whose outer protocol is TCP or UDP. */
async function tsharkExpectations(file: string): Promise<(Record<string, unknown> | null)[]> {
  const args = ["-n", "-r", file, "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE"];
  args.push("-T", "fields", "-E", "occurrence=f", "-e", "icmp.type", "-e", "icmpv6.type");
  for (const [field] of ORACLE) args.push("-e", field);
  const out = await tool("tshark", args);
  return out
    .split("\n")
    .filter((l) => l.length > 0)
    .map((line) => {
      const [icmp, icmpv6, ...cells] = line.split("\t");
      // ICMP errors quote another packet's headers, which tshark reports as tcp.*/udp.*: not comparable.
      if (icmp || icmpv6) return null;
      const expected: Record<string, unknown> = {};
      ORACLE.forEach(([, ours, kind], i) => {
        const cell = cells[i] ?? "";
        if (cell !== "") expected[ours] = kind === "text" ? cell : Number(cell);
      });
      return expected;
    });
}

let dir = "";
const path = (name: string): string => join(dir, name);

describe.skipIf(skip !== null)("sluice-pcap fields", () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "sluice-fields-"));
    await withLab(async (lab) => {
      const capture = await lab.capture(path("lab.pcap"), { precision: "nano" });
      await lab.http({ requests: 12, responseBytes: [0, 20_000] });
      await lab.http({ requests: 6, responseBytes: [0, 5000], ipv6: true });
      await lab.udp({ packets: 20, size: [40, 3500], receiver: "echo" });
      await lab.udp({ packets: 10, size: [40, 3500], receiver: "echo", ipv6: true });
      await lab.ping({ count: 2, size: 4000 });
      await capture.stop();
    });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("prints one JSON object per packet that agrees with tshark, IPv6 and fragments included", async () => {
    const run = await sluicePcap(["fields", path("lab.pcap")]);
    expect(run.code).toBe(0);
    const ours = lines(run.stdout);
    const expected = await tsharkExpectations(path("lab.pcap"));
    expect(ours).toHaveLength(expected.length);
    let compared = 0;
    const mismatches: object[] = [];
    expected.forEach((want, i) => {
      if (want === null) return;
      const got = Object.fromEntries(Object.keys(want).map((k) => [k, ours[i]![k]]));
      if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push({ frame: i + 1, want, got });
      compared++;
    });
    expect(mismatches.slice(0, 3)).toEqual([]);
    expect(compared).toBeGreaterThan(100);
    expect(ours.some((f) => f["ip_version"] === 6)).toBe(true);
    expect(ours.some((f) => (f["ip_fragment_offset"] as number) > 0)).toBe(true);
  });

  it("gives every packet the same keys, null where the layer is missing, and the record's time and lengths", async () => {
    const run = await sluicePcap(["fields", path("lab.pcap")]);
    expect(run.stderr).toBe("");
    const ours = lines(run.stdout);
    const keys = Object.keys(ours[0]!);
    for (const f of ours) expect(Object.keys(f)).toEqual(keys);
    const times = (
      await tool("tshark", ["-n", "-r", path("lab.pcap"), "-T", "fields", "-e", "frame.time_epoch"])
    )
      .split("\n")
      .filter((l) => l.length > 0);
    expect(ours.map((f) => f["timestamp"])).toEqual(times);
    const udp = ours.find((f) => f["protocol"] === 17 && f["udp_checksum"] !== null)!;
    expect(udp["tcp_flags"]).toBeNull();
    expect(udp["tcp_sequence_number"]).toBeNull();
    const tcp = ours.find((f) => f["protocol"] === 6)!;
    expect(tcp["udp_segment_total_length"]).toBeNull();
  });

  it("reads pcapng and standard input the same as classic pcap", async () => {
    await editcap(["-F", "pcapng", path("lab.pcap"), path("lab.pcapng")]);
    const classic = (await sluicePcap(["fields", path("lab.pcap")])).stdout;
    expect((await sluicePcap(["fields", path("lab.pcapng")])).stdout).toBe(classic);
    const piped = spawnSync("node", [CLI, "fields", "-"], {
      input: readFileSync(path("lab.pcap")),
      maxBuffer: 1 << 28,
    });
    expect(piped.stdout.toString()).toBe(classic);
  });

  it("prints the packets before a truncated end, then exits 1 naming the byte offset", async () => {
    const whole = readFileSync(path("lab.pcap"));
    writeFileSync(path("cut.pcap"), whole.subarray(0, whole.length - 3));
    const run = await sluicePcap(["fields", path("cut.pcap")]);
    expect(run.code).toBe(1);
    expect(lines(run.stdout)).toHaveLength((await capinfos(path("lab.pcap"))).packets - 1);
    expect(run.stderr).toMatch(/cut\.pcap: truncated-record at byte \d+/);
  });

  it("streams a large capture with flat memory", async () => {
    await makeLabCapture(path("big.pcap"), { bytes: 40e6 });
    const packets = (await capinfos(path("big.pcap"))).packets;
    const counted = spawnSync(
      "sh",
      ["-c", `/usr/bin/time -f "%M" node "${CLI}" fields "${path("big.pcap")}" | wc -l`],
      { encoding: "utf8" },
    );
    expect(Number(counted.stdout.trim())).toBe(packets);
    const peakKb = Number(counted.stderr.trim().split("\n").at(-1));
    // JSON for the whole file would be about 25x its size; the stream stays near Node's baseline.
    expect(peakKb / 1024).toBeLessThan(200);
  });
});
