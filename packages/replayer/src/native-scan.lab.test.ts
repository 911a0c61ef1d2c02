// Topspeed with the packet-io addon takes a chunk's plain records in one native scan and leaves the
// others to the decoder. Whatever the mix, the peer must see what the decoder alone would have sent:
// these files put every kind of odd record among thousands of plain ones, in 1 MiB chunks that split
// records, and compare the peer's capture byte for byte.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LinkType } from "@sluice/pcap-format";
import {
  type CaptureHandle,
  createLab,
  type Lab,
  labUnavailableReason,
  missingTools,
  seededBytes,
  seededRandom,
  testSeed,
} from "@sluice/testlab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FileReplayStats, ReplayError, Replayer, type ReplayerOptions } from "./index.js";
import { classicCapture, frame, hex, PcapngBuilder, readFile } from "./testing/capture-files.js";

const reason = labUnavailableReason() ?? missingTools("tcpdump");
if (reason) console.warn(`skipping native scan lab tests: they need ${reason}`);

let dir = "";
let lab: Lab;
let strayFilter = "";

const MACS = { src: "02:11:11:11:11:11", dst: "02:22:22:22:22:22" };
/** The lab's veths have MTU 1500: Ethernet frames up to 1514 bytes, 1518 with an 802.1Q tag. */
const LIMIT = 1514;
const TAGGED_LIMIT = 1518;

/** One record of a mixed capture, as the file holds it. */
interface MixedRecord {
  interfaceId: number;
  data: Buffer;
  origlen?: number;
  flags?: number;
}

/** What the peer must receive from a capture's records, and what the replay must count. */
interface Expected {
  frames: Buffer[];
  oversize: number;
  unsupported: number;
  truncated: number;
}

const RAW_INTERFACE = 2;

/**
 * A pcapng file over 3 MiB: two Ethernet interfaces (snaplens 0 and 4000), thousands of frames of
 * random sizes, and every ~150th record an odd one: over the MTU (untagged 1515, 1600, 9000; 802.1Q
 * 1600; 802.1ad 1518), at the limit (1514, 802.1Q 1518), captured length over original length, a block
 * with an option, an Interface Statistics Block between packets. Half-way a third interface (raw IP)
 * appears, whose records must become Ethernet frames (one is not IP and is skipped, one converts to
 * 1515 bytes). The seed is the run's (SLUICE_SEED repeats it).
 */
function mixedCapture(
  littleEndian: boolean,
  extra?: { afterRecords: number; block: Buffer },
): { bytes: Buffer; records: MixedRecord[]; extraAt: number } {
  const random = seededRandom("native-scan-mix");
  const b = new PcapngBuilder(littleEndian);
  const blocks: Buffer[] = [
    b.sectionHeader(),
    b.interfaceDescription(LinkType.ETHERNET, 0),
    b.interfaceDescription(LinkType.ETHERNET, 4000),
  ];
  const records: MixedRecord[] = [];
  const odd: ((i: number, ethernetId: number) => MixedRecord | Buffer)[] = [
    (i) => ({ interfaceId: 0, data: frame(i, 1600) }),
    (i) => ({ interfaceId: 0, data: frame(i, 9000) }),
    (i, id) => ({ interfaceId: id, data: frame(i, 1515) }),
    (i, id) => ({ interfaceId: id, data: frame(i, 1518) }),
    (i, id) => ({ interfaceId: id, data: frame(i, 1518, 0x8100) }),
    (i, id) => ({ interfaceId: id, data: frame(i, 1600, 0x8100) }),
    (i, id) => ({ interfaceId: id, data: frame(i, 1518, 0x88a8) }),
    (i, id) => ({ interfaceId: id, data: frame(i, LIMIT) }),
    (i, id) => ({ interfaceId: id, data: frame(i, 200), origlen: 150 }),
    (i, id) => ({ interfaceId: id, data: frame(i, 333), flags: 1 }),
    (i) => b.statistics(0, i),
  ];
  const rawOdd: ((i: number) => MixedRecord)[] = [
    () => ({ interfaceId: RAW_INTERFACE, data: Buffer.from([0x00, 1, 2, 3, 4, 5, 6, 7]) }),
    (i) => ({ interfaceId: RAW_INTERFACE, data: ipv4(i, LIMIT + 1 - 14, random) }),
  ];
  const total = 5200;
  let extraAt = -1;
  let rawReady = false;
  for (let i = 0; i < total; i++) {
    if (i === total / 2) {
      blocks.push(b.interfaceDescription(LinkType.RAW, 65535));
      rawReady = true;
    }
    const ethernetId = random() < 0.5 ? 0 : 1;
    let record: MixedRecord | Buffer;
    if (i > 0 && i % 150 === 0) {
      const kinds = rawReady ? [...odd, ...rawOdd] : odd;
      record = kinds[Math.floor(random() * kinds.length)]!(i, ethernetId);
    } else if (rawReady && random() < 0.3) {
      record = { interfaceId: RAW_INTERFACE, data: ipv4(i, 20 + Math.floor(random() * 1400), random) };
    } else {
      record = { interfaceId: ethernetId, data: frame(i, 60 + Math.floor(random() * (LIMIT - 59))) };
    }
    if (Buffer.isBuffer(record)) {
      blocks.push(record);
      continue;
    }
    records.push(record);
    if (extra && records.length === extra.afterRecords + 1) {
      extraAt = blocks.reduce((sum, block) => sum + block.length, 0);
      blocks.push(extra.block);
    }
    blocks.push(
      b.packet(record.interfaceId, 1_700_000_000_000_000 + i, record.data, {
        ...(record.origlen === undefined ? {} : { origlen: record.origlen }),
        ...(record.flags === undefined ? {} : { flags: record.flags }),
      }),
    );
  }
  return { bytes: Buffer.concat(blocks), records, extraAt };
}

/** An IPv4 packet of `length` bytes (a header's first byte, then seeded bytes and the index). */
function ipv4(index: number, length: number, random: () => number): Buffer {
  const data = seededBytes(random, length);
  data[0] = 0x45;
  data.writeUInt32BE(index, 4);
  return data;
}

/** The frames the peer must get from `records`, and the counts, as the decoder's path alone makes them. */
function expectedOf(records: MixedRecord[], oversize: "skip" | "truncate"): Expected {
  const header = Buffer.from(`${MACS.dst.replaceAll(":", "")}${MACS.src.replaceAll(":", "")}0800`, "hex");
  const expected: Expected = { frames: [], oversize: 0, unsupported: 0, truncated: 0 };
  for (const record of records) {
    let data = record.data;
    if (record.interfaceId === RAW_INTERFACE) {
      if (data[0]! >> 4 !== 4) {
        expected.unsupported++;
        continue;
      }
      data = Buffer.concat([header, data]);
    }
    const limit = data.readUInt16BE(12) === 0x8100 ? TAGGED_LIMIT : LIMIT;
    if (data.length > limit) {
      if (oversize === "skip") {
        expected.oversize++;
        continue;
      }
      data = data.subarray(0, limit);
      expected.truncated++;
    }
    expected.frames.push(data);
  }
  return expected;
}

function output(): ReplayerOptions["output"] {
  return { type: "interface", interface: lab.a.iface, netns: lab.a.netns, packetIo: "native" };
}

async function peerCapture(name: string): Promise<CaptureHandle> {
  return lab.capture(join(dir, name), { on: "b", filter: strayFilter, precision: "nano" });
}

/** Replays `files` at topspeed with the addon through the inject child; the peer's frames and the stats. */
async function replayAtTopspeed(name: string, files: string[], oversize: "skip" | "truncate" = "skip") {
  const capture = await peerCapture(name);
  const r = new Replayer({ output: output(), speed: { kind: "topspeed" }, oversize, macs: MACS });
  const stats: (FileReplayStats | ReplayError)[] = [];
  try {
    await r.start();
    expect(r.packetIo).toBe("native");
    for (const file of files) stats.push(await r.replayFile(file).catch((e: unknown) => e as ReplayError));
  } finally {
    await r.stop();
  }
  await capture.stop();
  return { stats, received: readFile(join(dir, name)) };
}

describe.skipIf(reason !== null)("topspeed with the addon's native record scan", () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "sluice-native-scan-"));
    lab = await createLab();
    strayFilter = await lab.quietFilter();
  });

  afterAll(async () => {
    await lab?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ["little", "skip"],
    ["big", "skip"],
    ["little", "truncate"],
    ["big", "truncate"],
  ] as const)(
    "a mixed pcapng (%s-endian) reaches the peer byte for byte as the decoder alone would send it (oversize %s)",
    async (order, oversize) => {
      const { bytes, records } = mixedCapture(order === "little");
      expect(bytes.length).toBeGreaterThan(3 * 2 ** 20);
      const file = join(dir, `mixed-${order}.pcapng`);
      writeFileSync(file, bytes);
      const expected = expectedOf(records, oversize);
      // The file has each kind of odd record more than once (the seed decides where).
      expect(expected.frames.length).toBeGreaterThan(4000);
      expect(oversize === "skip" ? expected.oversize : expected.truncated).toBeGreaterThan(5);
      const { stats, received } = await replayAtTopspeed(
        `mixed-${order}-${oversize}-peer.pcap`,
        [file],
        oversize,
      );
      const result = stats[0] as FileReplayStats;
      expect(result, `seed ${testSeed()}`).toMatchObject({
        packetsSent: expected.frames.length,
        skipped: { oversize: expected.oversize, unsupported: expected.unsupported },
        truncated: expected.truncated,
        failed: 0,
      });
      expect(received.length).toBe(expected.frames.length);
      expect(hex(received)).toEqual(hex(expected.frames.map((data) => ({ data }))));
    },
  );

  it("injecting in process (inside the namespace) sends the same bytes and counts", async () => {
    const { bytes, records } = mixedCapture(true);
    const file = join(dir, "mixed-in-process.pcapng");
    writeFileSync(file, bytes);
    const expected = expectedOf(records, "truncate");
    const script = join(dir, "in-process.mjs");
    const dist = new URL("../dist/index.js", import.meta.url).href;
    writeFileSync(
      script,
      `import { Replayer } from ${JSON.stringify(dist)};
const r = new Replayer({ output: { type: "interface", interface: ${JSON.stringify(lab.a.iface)}, inProcess: true,
  packetIo: "native" }, speed: { kind: "topspeed" }, oversize: "truncate", macs: ${JSON.stringify(MACS)} });
await r.start();
const stats = await r.replayFile(${JSON.stringify(file)});
await r.stop();
console.log(JSON.stringify({ packetIo: "native", stats }));
`,
    );
    const capture = await peerCapture("mixed-in-process-peer.pcap");
    const run = spawnSync("ip", ["netns", "exec", lab.a.netns, process.execPath, script], {
      encoding: "utf8",
    });
    await capture.stop();
    expect(run.status, run.stderr).toBe(0);
    const { stats } = JSON.parse(run.stdout) as { stats: FileReplayStats };
    expect(stats).toMatchObject({
      packetsSent: expected.frames.length,
      skipped: { oversize: 0, unsupported: expected.unsupported },
      truncated: expected.truncated,
    });
    const received = readFile(join(dir, "mixed-in-process-peer.pcap"));
    expect(hex(received)).toEqual(hex(expected.frames.map((data) => ({ data }))));
  });

  it("a pcapng record over its interface's snaplen deep in a chunk fails the file at its offset, after exactly the records before it", async () => {
    // A 5000-byte frame on the interface with snaplen 4000, some 2 MiB in: past a chunk boundary.
    const cut = 3000;
    const bad = new PcapngBuilder(true).packet(1, 0, frame(1, 5000));
    const { bytes, records, extraAt } = mixedCapture(true, { afterRecords: cut, block: bad });
    expect(extraAt).toBeGreaterThan(2 ** 21);
    const file = join(dir, "over-snaplen.pcapng");
    writeFileSync(file, bytes);
    const expected = expectedOf(records.slice(0, cut), "skip");
    const { stats, received } = await replayAtTopspeed("over-snaplen-peer.pcap", [file]);
    const error = stats[0] as ReplayError;
    expect(ReplayError.isInstance(error)).toBe(true);
    expect(error.reason).toBe("bad-file");
    expect(error.detail).toMatchObject({ formatReason: "caplen-over-snaplen", offset: extraAt + 20 });
    expect(error.stats?.packetsSent).toBe(expected.frames.length);
    expect(hex(received)).toEqual(hex(expected.frames.map((data) => ({ data }))));
  });

  it("a classic pcap's records over its snaplen are cut to it, and odd ones among plain ones go out as they are", async () => {
    // snaplen 1000: records longer are cut to 1000 bytes (libpcap's rule, the decoder's warning); some
    // have a captured length over their original length or a fraction of a second or more.
    const random = seededRandom("native-scan-classic");
    const records = Array.from({ length: 6000 }, (_, i) => {
      const data = frame(i, 60 + Math.floor(random() * (LIMIT - 59)));
      if (i % 97 === 0) return { data, origlen: data.length - 1 };
      if (i % 89 === 0) return { data, fraction: 1_500_000 };
      return { data };
    });
    const bytes = classicCapture(1000, records);
    expect(bytes.length).toBeGreaterThan(3 * 2 ** 20);
    const file = join(dir, "classic-snaplen.pcap");
    writeFileSync(file, bytes);
    const { stats, received } = await replayAtTopspeed("classic-snaplen-peer.pcap", [file]);
    expect(stats[0]).toMatchObject({ packetsSent: records.length, skipped: { oversize: 0 }, truncated: 0 });
    expect(hex(received)).toEqual(hex(records.map((r) => ({ data: r.data.subarray(0, 1000) }))));
  });
});
