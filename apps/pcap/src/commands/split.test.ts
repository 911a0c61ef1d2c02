import { execFile } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readCaptureSync } from "@sluice/pcap-format";
import {
  editcap,
  labUnavailableReason,
  mergecap,
  missingTools,
  randpkt,
  tool,
  withLab,
} from "@sluice/testlab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const CLI = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));
const skip = !existsSync(CLI)
  ? `${CLI} is not built (npm run build)`
  : (missingTools("tshark", "editcap", "mergecap", "randpkt", "capinfos") ?? labUnavailableReason());
if (skip) console.warn(`skipping sluice-pcap split tests: ${skip}`);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function sluicePcap(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile("node", [CLI, ...args], { maxBuffer: 1 << 26 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

let dir = "";
const path = (...names: string[]): string => join(dir, ...names);

/** Each record of a classic pcap file as its raw bytes (16-byte header and data), hex-encoded. */
function rawRecords(file: string): string[] {
  const bytes = readFileSync(file);
  return readCaptureSync(bytes).packets.map((p) =>
    bytes
      .subarray(
        p.data.byteOffset - bytes.byteOffset - 16,
        p.data.byteOffset - bytes.byteOffset + p.data.length,
      )
      .toString("hex"),
  );
}

function partFiles(out: string): string[] {
  return readdirSync(out)
    .filter((f) => f.endsWith(".pcap"))
    .sort();
}

/** The bidirectional 5-tuples (and 2-tuples) of a file's packets with ports, as tshark decodes them. */
async function flowsOf(file: string): Promise<{ five: string[]; two: string[] }> {
  const out = await tool("tshark", [
    "-n",
    "-r",
    file,
    "-o",
    "ip.defragment:FALSE",
    "-o",
    "ipv6.defragment:FALSE",
    "-T",
    "fields",
    "-E",
    "occurrence=f",
    "-e",
    "ip.src",
    "-e",
    "ip.dst",
    "-e",
    "ipv6.src",
    "-e",
    "ipv6.dst",
    "-e",
    "ip.proto",
    "-e",
    "ipv6.nxt",
    "-e",
    "tcp.srcport",
    "-e",
    "tcp.dstport",
    "-e",
    "udp.srcport",
    "-e",
    "udp.dstport",
    "-e",
    "icmp.type",
  ]);
  const five: string[] = [];
  const two: string[] = [];
  for (const line of out.split("\n").filter((l) => l.length > 0)) {
    const [s4, d4, s6, d6, p4, p6, ts, td, us, ud, icmp] = line.split("\t");
    const src = s4 || s6;
    const dst = d4 || d6;
    if (!src || !dst) continue;
    two.push([src, dst].sort().join(" "));
    // ICMP errors quote a TCP/UDP header: tshark's ports would be the quoted packet's, so skip ICMP.
    if (icmp) continue;
    const sp = ts || us;
    const dp = td || ud;
    if (!sp || !dp) continue; // a fragment after the first carries no ports
    const ends = [`${src}/${sp}`, `${dst}/${dp}`].sort();
    five.push(`${p4 || p6} ${ends.join(" ")}`);
  }
  return { five, two };
}

/** Which part each flow was found in; a flow in two parts shows up as a set of two. */
async function partsByFlow(out: string, kind: "five" | "two"): Promise<Map<string, Set<string>>> {
  const owners = new Map<string, Set<string>>();
  for (const file of partFiles(out)) {
    for (const flow of (await flowsOf(join(out, file)))[kind]) {
      const set = owners.get(flow) ?? new Set<string>();
      set.add(file);
      owners.set(flow, set);
    }
  }
  return owners;
}

describe.skipIf(skip !== null)("sluice-pcap split", () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "sluice-split-"));
    await withLab(async (lab) => {
      const capture = await lab.capture(path("lab.pcap"), { precision: "nano" });
      // 160 connections with one mid-sized response each: many flows of similar size.
      await lab.http({ requests: 160, responseBytes: 4000, concurrency: 160 });
      await lab.http({ requests: 20, responseBytes: 4000, concurrency: 20, ipv6: true });
      await lab.udp({ packets: 20, size: [100, 3000], receiver: "echo" });
      await lab.ping({ count: 3, size: 4000 });
      await capture.stop();
    });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("puts every packet in exactly one part, its record copied byte for byte and in order", async () => {
    mkdirSync(path("four"));
    const run = await sluicePcap(["split", path("lab.pcap"), "--parts", "4", "-o", path("four")]);
    expect(run.code).toBe(0);
    const input = rawRecords(path("lab.pcap"));
    const position = new Map(input.map((record, i) => [record, i]));
    expect(position.size).toBe(input.length); // nanosecond timestamps make every record unique
    const seen: number[] = [];
    for (const file of partFiles(path("four"))) {
      const indexes = rawRecords(path("four", file)).map((r) => position.get(r) ?? -1);
      expect(indexes).not.toContain(-1);
      expect(indexes).toEqual([...indexes].sort((a, b) => a - b));
      seen.push(...indexes);
      // Same header as the input apart from nothing: link type, snaplen, precision, byte order.
      expect(readFileSync(path("four", file)).subarray(0, 24)).toEqual(
        readFileSync(path("lab.pcap")).subarray(0, 24),
      );
    }
    expect(seen.sort((a, b) => a - b)).toEqual(input.map((_, i) => i));
    expect(partFiles(path("four"))).toEqual(["lab-0.pcap", "lab-1.pcap", "lab-2.pcap", "lab-3.pcap"]);
  });

  it("keeps every bidirectional 5-tuple in one part and spreads 100+ flows within 1.5x of the mean", async () => {
    const owners = await partsByFlow(path("four"), "five");
    expect(owners.size).toBeGreaterThanOrEqual(100);
    const split = [...owners].filter(([, parts]) => parts.size > 1);
    expect(split).toEqual([]);
    const flowsPerPart = new Map<string, number>();
    for (const [, parts] of owners)
      for (const p of parts) flowsPerPart.set(p, (flowsPerPart.get(p) ?? 0) + 1);
    const counts = [...flowsPerPart.values()];
    expect(counts).toHaveLength(4);
    const mean = owners.size / 4;
    expect(Math.max(...counts)).toBeLessThanOrEqual(1.5 * mean);
    const packets = partFiles(path("four")).map((f) => rawRecords(path("four", f)).length);
    const meanPackets = packets.reduce((a, b) => a + b, 0) / 4;
    expect(Math.max(...packets)).toBeLessThanOrEqual(1.5 * meanPackets);
  });

  it("keeps every IP fragment in the part of its datagram's first fragment", async () => {
    const datagrams = new Map<string, Set<string>>();
    let fragments = 0;
    for (const file of partFiles(path("four"))) {
      const out = await tool("tshark", [
        "-n",
        "-r",
        path("four", file),
        "-o",
        "ip.defragment:FALSE",
        "-Y",
        "ip.flags.mf == 1 || ip.frag_offset > 0",
        "-T",
        "fields",
        "-e",
        "ip.src",
        "-e",
        "ip.dst",
        "-e",
        "ip.proto",
        "-e",
        "ip.id",
      ]);
      for (const key of out.split("\n").filter((l) => l.length > 0)) {
        fragments++;
        datagrams.set(key, (datagrams.get(key) ?? new Set<string>()).add(file));
      }
    }
    expect(fragments).toBeGreaterThan(20);
    expect([...datagrams].filter(([, parts]) => parts.size > 1)).toEqual([]);
  });

  it("keeps every pair of hosts in one part with --key 2-tuple", async () => {
    mkdirSync(path("two"));
    const run = await sluicePcap([
      "split",
      path("lab.pcap"),
      "--parts",
      "3",
      "--key",
      "2-tuple",
      "-o",
      path("two"),
    ]);
    expect(run.code).toBe(0);
    const owners = await partsByFlow(path("two"), "two");
    expect(owners.size).toBeGreaterThanOrEqual(2);
    expect([...owners].filter(([, parts]) => parts.size > 1)).toEqual([]);
  });

  it("names parts by node with --nodes, and removing a node moves only its own flows (about 1/N)", async () => {
    mkdirSync(path("five-nodes"));
    mkdirSync(path("four-nodes"));
    const all = ["alpha", "bravo", "charlie", "delta", "echo"];
    expect(
      (await sluicePcap(["split", path("lab.pcap"), "--nodes", all.join(","), "-o", path("five-nodes")]))
        .code,
    ).toBe(0);
    const fewer = all.filter((n) => n !== "delta");
    expect(
      (await sluicePcap(["split", path("lab.pcap"), "--nodes", fewer.join(","), "-o", path("four-nodes")]))
        .code,
    ).toBe(0);
    expect(partFiles(path("five-nodes"))).toEqual(all.map((n) => `lab-${n}.pcap`));
    const before = await partsByFlow(path("five-nodes"), "five");
    const after = await partsByFlow(path("four-nodes"), "five");
    let moved = 0;
    for (const [flow, parts] of before) {
      const was = [...parts][0]!;
      const now = [...after.get(flow)!][0]!;
      if (was !== now) {
        moved++;
        expect(was).toBe("lab-delta.pcap");
      }
    }
    const share = moved / before.size;
    expect(share).toBeGreaterThan(0.2 / 2);
    expect(share).toBeLessThan(0.2 * 1.75);
  });

  it("writes no file for a part without packets", async () => {
    mkdirSync(path("many"));
    const run = await sluicePcap(["split", path("lab.pcap"), "--parts", "1000", "-o", path("many")]);
    expect(run.code).toBe(0);
    const files = partFiles(path("many"));
    expect(files.length).toBeGreaterThan(50);
    expect(files.length).toBeLessThan(1000);
    for (const file of files) expect(rawRecords(path("many", file)).length).toBeGreaterThan(0);
    expect(readdirSync(path("many")).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("splits pcapng into classic pcap in the input's precision", async () => {
    await editcap(["-F", "pcapng", path("lab.pcap"), path("lab-ng.pcapng")]);
    mkdirSync(path("ng"));
    const run = await sluicePcap(["split", path("lab-ng.pcapng"), "--parts", "4", "-o", path("ng")]);
    expect(run.code).toBe(0);
    const files = partFiles(path("ng"));
    expect(files).toEqual(["lab-ng-0.pcap", "lab-ng-1.pcap", "lab-ng-2.pcap", "lab-ng-3.pcap"]);
    for (const [i, file] of files.entries()) {
      // Same packets as the classic-pcap split, nanosecond timestamps included.
      expect(rawRecords(path("ng", file))).toEqual(rawRecords(path("four", `lab-${i}.pcap`)));
    }
  });

  it("refuses pcapng with two link types, naming the block, and writes nothing", async () => {
    randpkt(path("usb.pcap"), "usb-linux", 20, 300);
    await mergecap(["-F", "pcapng", "-w", path("mixed.pcapng"), path("lab.pcap"), path("usb.pcap")]);
    mkdirSync(path("mixed"));
    const run = await sluicePcap(["split", path("mixed.pcapng"), "--parts", "2", "-o", path("mixed")]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/mixed\.pcapng: unsupported-conversion at byte \d+: .*link types 1 and \d+/);
    expect(readdirSync(path("mixed"))).toEqual([]);
  });

  it("splits the packets before a truncated end, exits 1 and names the byte offset", async () => {
    const whole = readFileSync(path("lab.pcap"));
    writeFileSync(path("cut.pcap"), whole.subarray(0, whole.length - 5));
    mkdirSync(path("cut"));
    const run = await sluicePcap(["split", path("cut.pcap"), "--parts", "2", "-o", path("cut")]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/cut\.pcap: truncated-record at byte \d+/);
    const written = partFiles(path("cut")).reduce((n, f) => n + rawRecords(path("cut", f)).length, 0);
    expect(written).toBe(rawRecords(path("lab.pcap")).length - 1);
  });

  it("creates the output directory and reads standard input, naming parts after stdin", async () => {
    const run = await new Promise<Run>((resolve) => {
      const child = execFile(
        "node",
        [CLI, "split", "-", "--parts", "2", "-o", path("new", "dir")],
        (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      );
      child.stdin!.end(readFileSync(path("lab.pcap")));
    });
    expect(run.code).toBe(0);
    expect(partFiles(path("new", "dir"))).toEqual(["stdin-0.pcap", "stdin-1.pcap"]);
    expect(
      (await sluicePcap(["split", path("lab.pcap"), "--parts", "2", "-o", path("two-parts-check")])).code,
    ).toBe(0);
    expect(rawRecords(path("new", "dir", "stdin-0.pcap"))).toEqual(
      rawRecords(path("two-parts-check", "lab-0.pcap")),
    );
  });

  it("rejects bad options with exit status 2", async () => {
    for (const args of [
      ["--parts", "0"],
      ["--parts", "4", "--nodes", "a,b"],
      ["--parts", "4", "--key", "3-tuple"],
      ["--nodes", "a,../b"],
      ["--nodes", "a,a"],
      [],
    ]) {
      const run = await sluicePcap(["split", path("lab.pcap"), ...args, "-o", dir]);
      expect(run.code, args.join(" ")).toBe(2);
    }
  });
});
