import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import {
  editcap,
  labUnavailableReason,
  makeLabCapture,
  mergecap,
  missingTools,
  randpkt,
  tool,
  tsharkFrames,
} from "@sluice/testlab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  formatTimestamp,
  type PacketRecord,
  PcapFormatError,
  readCaptureSync,
  readPackets,
} from "./index.js";
import { readChunks } from "./low-level.js";
import {
  customBlock,
  epb,
  idb,
  opb,
  pcapngToBigEndian,
  shb,
  spb,
  swapClassic,
  udpFrame,
} from "./testing/builders.js";

const skip = missingTools("randpkt", "editcap", "mergecap", "tshark");
if (skip) console.warn(`skipping oracle tests: ${skip}`);

let dir = "";
const path = (name: string): string => join(dir, name);

async function ours(file: string): Promise<PacketRecord[]> {
  const packets: PacketRecord[] = [];
  for await (const p of readPackets(file)) packets.push(p);
  return packets;
}

// What tshark would print for our packets: frame.time_epoch, frame.len, frame.cap_len, frame.interface_id.
function asFrames(packets: PacketRecord[]) {
  return packets.map((p) => ({
    time: formatTimestamp(p.seconds, p.nanoseconds),
    len: p.originalLength,
    capLen: p.data.length,
    interfaceId: p.interfaceId,
  }));
}

async function expectTsharkAgrees(file: string): Promise<PacketRecord[]> {
  const packets = await ours(file);
  expect(asFrames(packets)).toEqual(await tsharkFrames(file));
  return packets;
}

const RANDPKT_TYPES = [
  "eth",
  "tcp",
  "udp",
  "ipv6",
  "dns",
  "arp",
  "sctp",
  "usb-linux",
  "ieee802.15.4",
  "syslog",
];

describe.skipIf(skip !== null)("reading agrees with tshark", () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "pcap-read-"));
    for (const type of RANDPKT_TYPES) {
      randpkt(path(`${type}.pcap`), type, 200, 3000);
      // Give every packet a distinct, non-round timestamp so precision mistakes show.
      await editcap([
        "-t",
        "1700000000.123456789",
        "-F",
        "nsecpcap",
        path(`${type}.pcap`),
        path(`${type}.nsec.pcap`),
      ]);
      await editcap(["-F", "pcap", path(`${type}.nsec.pcap`), path(`${type}.usec.pcap`)]);
      await editcap(["-F", "pcapng", path(`${type}.nsec.pcap`), path(`${type}.nsec.pcapng`)]);
      await editcap(["-F", "pcapng", path(`${type}.usec.pcap`), path(`${type}.usec.pcapng`)]);
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const type of RANDPKT_TYPES) {
    for (const variant of ["usec.pcap", "nsec.pcap", "usec.pcapng", "nsec.pcapng"]) {
      it(`reads randpkt ${type} as ${variant} exactly as tshark does`, async () => {
        const packets = await expectTsharkAgrees(path(`${type}.${variant}`));
        expect(packets.length).toBe(200);
      });
    }
  }

  it("reads the same packet bytes from pcap, nanosecond pcap and pcapng", async () => {
    const a = await ours(path("tcp.usec.pcap"));
    for (const variant of ["nsec.pcap", "usec.pcapng", "nsec.pcapng"]) {
      const b = await ours(path(`tcp.${variant}`));
      expect(b.map((p) => Buffer.from(p.data).toString("hex"))).toEqual(
        a.map((p) => Buffer.from(p.data).toString("hex")),
      );
    }
  });

  it("reads big-endian classic pcap in both precisions like tshark", async () => {
    for (const variant of ["usec", "nsec"]) {
      const be = path(`udp.${variant}.be.pcap`);
      writeFileSync(be, swapClassic(readFileSync(path(`udp.${variant}.pcap`))));
      expect(readFileSync(be).subarray(0, 4).toString("hex")).toBe(
        variant === "usec" ? "a1b2c3d4" : "a1b23c4d",
      );
      const packets = await expectTsharkAgrees(be);
      const little = await ours(path(`udp.${variant}.pcap`));
      expect(asFrames(packets)).toEqual(asFrames(little));
    }
  });

  it("reads big-endian pcapng like tshark", async () => {
    const be = path("dns.be.pcapng");
    writeFileSync(be, pcapngToBigEndian(readFileSync(path("dns.nsec.pcapng"))));
    expect(readFileSync(be).subarray(8, 12).toString("hex")).toBe("1a2b3c4d");
    const packets = await expectTsharkAgrees(be);
    expect(packets.length).toBe(200);
  });

  it("gives each record of a merged pcapng its interface and link type", async () => {
    const merged = path("merged.pcapng");
    await mergecap(["-F", "pcapng", "-w", merged, path("eth.usec.pcap"), path("usb-linux.usec.pcap")]);
    const stream = readPackets(merged);
    const packets: PacketRecord[] = [];
    for await (const p of stream) packets.push(p);
    expect(asFrames(packets)).toEqual(await tsharkFrames(merged));
    expect(stream.interfaces.map((i) => i.linkType)).toEqual([1, 189]);
    expect(new Set(packets.map((p) => `${p.interfaceId}:${p.linkType}`))).toEqual(new Set(["0:1", "1:189"]));
  });

  it("reads several sections, also of different byte orders, like tshark", async () => {
    const multi = path("multi.pcapng");
    writeFileSync(
      multi,
      Buffer.concat([
        readFileSync(path("udp.nsec.pcapng")),
        pcapngToBigEndian(readFileSync(path("dns.usec.pcapng"))),
        readFileSync(path("eth.usec.pcapng")),
      ]),
    );
    const stream = readPackets(multi);
    const packets: PacketRecord[] = [];
    for await (const p of stream) packets.push(p);
    // tshark 4.0 numbers interfaces per section; ours count across the file, so compare the rest.
    const withoutInterface = (frames: { interfaceId: number }[]) =>
      frames.map((f) => ({ ...f, interfaceId: 0 }));
    expect(withoutInterface(asFrames(packets))).toEqual(withoutInterface(await tsharkFrames(multi)));
    expect(stream.sections.map((s) => s.endianness)).toEqual(["little", "big", "little"]);
    expect(new Set(packets.map((p) => p.interfaceId))).toEqual(new Set([0, 1, 2]));
  });

  it("reads Simple and obsolete Packet Blocks and skips custom blocks like tshark", async () => {
    const le = true;
    const file = path("blocks.pcapng");
    writeFileSync(
      file,
      Buffer.concat([
        shb(le),
        idb(le, { linkType: 1, snaplen: 1500, tsresol: 6 }),
        customBlock(le, Buffer.from("ignore me, I am custom")),
        epb(le, { units: 1_700_000_000_000_001n, data: udpFrame(100, 1) }),
        opb(le, { units: 1_700_000_000_000_002n, data: udpFrame(61, 2) }),
        customBlock(le, Buffer.alloc(5000, 7)),
        epb(le, { units: 1_700_000_000_999_999n, data: udpFrame(1500, 3) }),
      ]),
    );
    // tshark lists a custom block as a frame without a time; packets are the frames with one.
    const tsharkPackets = (await tsharkFrames(file)).filter((f) => f.time !== "");
    expect(asFrames(await ours(file))).toEqual(tsharkPackets);
    expect(tsharkPackets).toHaveLength(3);
    const spbFile = path("spb.pcapng");
    writeFileSync(
      spbFile,
      Buffer.concat([
        shb(le),
        idb(le, { snaplen: 96 }),
        spb(le, { data: udpFrame(64, 4) }),
        spb(le, { data: udpFrame(96, 5), origlen: 1400 }),
      ]),
    );
    const packets = await ours(spbFile);
    expect(packets.map((p) => [p.data.length, p.originalLength])).toEqual([
      [64, 64],
      [96, 1400],
    ]);
    const tshark = await tsharkFrames(spbFile);
    expect(tshark.map((f) => [f.capLen, f.len])).toEqual([
      [64, 64],
      [96, 1400],
    ]);
  });

  it("applies if_tsresol in powers of 10 and of 2 exactly as tshark does", async () => {
    const le = true;
    for (const [tsresol, units] of [
      [3, 1_700_000_000_123n],
      [9, 1_700_000_000_123_456_789n],
      [0x80 | 20, 1_700_000_000n * 1_048_576n + 123_457n],
      [0x80 | 30, 1_700_000_000n * 1_073_741_824n + 987_654_321n],
      [12, 1_700_000_000_123_456_789_123n],
    ] as const) {
      const file = path(`tsresol-${tsresol}.pcapng`);
      // 2^64 units at 10^-12 s overflows; the last case stays within 64 bits (about 1.8e19).
      const fits = units < 1n << 64n;
      if (!fits) continue;
      writeFileSync(
        file,
        Buffer.concat([
          shb(le),
          idb(le, { tsresol }),
          epb(le, { units, data: udpFrame(60) }),
          epb(le, { units: units + 1n, data: udpFrame(60) }),
        ]),
      );
      await expectTsharkAgrees(file);
    }
  });

  it("adds if_tsoffset to every timestamp", async () => {
    const le = true;
    const file = path("tsoffset.pcapng");
    writeFileSync(
      file,
      Buffer.concat([
        shb(le),
        idb(le, { tsresol: 6, tsoffset: 1_600_000_000n }),
        epb(le, { units: 100_000_123n, data: udpFrame(60) }),
      ]),
    );
    const [packet] = await ours(file);
    expect(formatTimestamp(packet!.seconds, packet!.nanoseconds)).toBe("1600000100.000123000");
    const version = await tool("tshark", ["--version"]);
    if (/TShark \(Wireshark\) [4-9]\./.test(version)) await expectTsharkAgrees(file);
  });
});

describe("reading from any source", () => {
  const le = true;
  const frames = Array.from({ length: 50 }, (_, i) => udpFrame(60 + i * 29, i));
  const capture = Buffer.concat([
    shb(le),
    idb(le, { tsresol: 9 }),
    ...frames.map((data, i) => epb(le, { units: 1_700_000_000_000_000_000n + BigInt(i) * 1_000_001n, data })),
  ]);

  async function collect(source: Parameters<typeof readPackets>[0]): Promise<string[]> {
    const out: string[] = [];
    for await (const p of readPackets(source)) out.push(Buffer.from(p.data).toString("hex"));
    return out;
  }

  const expected = frames.map((f) => f.toString("hex"));

  it("reads a Buffer, a Readable, an async iterable of odd-sized chunks, a path and an fd alike", async () => {
    const chunks = async function* () {
      for (let i = 0; i < capture.length; i += 7) yield capture.subarray(i, i + 7);
    };
    const tmp = mkdtempSync(join(tmpdir(), "pcap-src-"));
    try {
      const file = join(tmp, "c.pcapng");
      writeFileSync(file, capture);
      const { openSync, closeSync } = await import("node:fs");
      const fd = openSync(file, "r");
      expect(await collect(capture)).toEqual(expected);
      expect(await collect(Readable.from([capture.subarray(0, 1000), capture.subarray(1000)]))).toEqual(
        expected,
      );
      expect(await collect(chunks())).toEqual(expected);
      expect(await collect(file)).toEqual(expected);
      expect(await collect(fd)).toEqual(expected);
      closeSync(fd);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("hands out records that lie inside one chunk as views of that chunk", async () => {
    const views: Uint8Array[] = [];
    for await (const p of readPackets([capture])) views.push(p.data);
    expect(views.every((v) => v.buffer === capture.buffer)).toBe(true);
  });

  it("keeps records that spanned chunks intact after later chunks arrive", async () => {
    const kept: Uint8Array[] = [];
    const chunks = async function* () {
      for (let i = 0; i < capture.length; i += 13) yield Buffer.from(capture.subarray(i, i + 13));
    };
    for await (const p of readPackets(chunks())) kept.push(p.data);
    expect(kept.map((d) => Buffer.from(d).toString("hex"))).toEqual(expected);
  });

  it("reads a path's chunks into the buffers nextBuffer gives, and refuses one too small", async () => {
    const tmp = mkdtempSync(join(tmpdir(), "pcap-src-"));
    try {
      const file = join(tmp, "c.pcapng");
      writeFileSync(file, capture);
      const given: Uint8Array[] = [];
      const nextBuffer = (size: number): Uint8Array => {
        given.push(Buffer.alloc(size + 10));
        return given.at(-1)!;
      };
      const chunks: Uint8Array[] = [];
      for await (const chunk of readChunks(file, { chunkSize: 500, nextBuffer })) chunks.push(chunk);
      expect(Buffer.concat(chunks).equals(capture)).toBe(true);
      expect(chunks.map((c) => c.buffer)).toEqual(given.slice(0, chunks.length).map((b) => b.buffer));
      const tooSmall = readChunks(file, { chunkSize: 500, nextBuffer: () => Buffer.alloc(499) });
      const refused = await tooSmall.next().catch((error: unknown) => error);
      expect(PcapFormatError.isInstance(refused) && refused.reason).toBe("bad-argument");
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("reads a buffer synchronously with readCaptureSync", () => {
    const capture2 = readCaptureSync(capture);
    expect(capture2.format).toBe("pcapng");
    expect(capture2.interfaces).toHaveLength(1);
    expect(capture2.packets.map((p) => Buffer.from(p.data).toString("hex"))).toEqual(expected);
    expect(formatTimestamp(capture2.packets[1]!.seconds, capture2.packets[1]!.nanoseconds)).toBe(
      "1700000000.001000001",
    );
  });
});

const labReason = labUnavailableReason() ?? skip;
if (labReason) console.warn(`skipping lab capture tests: they need ${labReason}`);

describe.skipIf(labReason !== null)("reading real kernel traffic from the lab", () => {
  const tmp = mkdtempSync(join(tmpdir(), "pcap-lab-"));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  for (const precision of ["micro", "nano"] as const) {
    it(`reads a ${precision}second tcpdump capture exactly as tshark does`, async () => {
      const file = join(tmp, `lab-${precision}.pcap`);
      await makeLabCapture(file, { bytes: 3e6, precision });
      const packets = await expectTsharkAgrees(file);
      expect(packets.length).toBeGreaterThan(2000);
      await editcap(["-F", "pcapng", file, `${file}ng`]);
      expect(asFrames(await ours(`${file}ng`))).toEqual(asFrames(packets));
    });
  }
});
