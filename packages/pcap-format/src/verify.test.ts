import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { capinfos, editcap, missingTools, randpkt } from "@sluice/testlab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inspectCapture, PcapFormatError, type PcapFormatReason, verifyCapture } from "./index.js";
import { block, classicHeader, classicRecord, epb, idb, shb, spb, udpFrame } from "./testing/builders.js";

const skip = missingTools("randpkt", "editcap", "capinfos");
let dir = "";

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "pcap-verify-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function problem(bytes: Uint8Array): Promise<{ reason: PcapFormatReason; offset: number } | null> {
  const result = await verifyCapture(bytes);
  expect(result.complete).toBe(result.error === null);
  return result.error ? { reason: result.error.reason, offset: result.error.offset } : null;
}

const le = true;
const frame = udpFrame(100);

describe.skipIf(skip !== null)("verify against real files", () => {
  it("calls tool-written pcap and pcapng complete, with capinfos' packet count", async () => {
    randpkt(join(dir, "eth.pcap"), "eth", 300, 2000);
    await editcap(["-F", "pcapng", join(dir, "eth.pcap"), join(dir, "eth.pcapng")]);
    for (const name of ["eth.pcap", "eth.pcapng"]) {
      const result = await verifyCapture(join(dir, name));
      const truth = await capinfos(join(dir, name));
      expect(result).toMatchObject({ complete: true, error: null, packets: truth.packets });
    }
  });

  it("finds a cut at any byte of the last record and names the record's offset", async () => {
    const file = readFileSync(join(dir, "eth.pcap"));
    const offsets: number[] = [];
    let off = 24;
    while (off < file.length) {
      offsets.push(off);
      off += 16 + file.readUInt32LE(off + 8);
    }
    const last = offsets.at(-1)!;
    for (const cut of [last + 1, last + 15, last + 16, last + 17, file.length - 1]) {
      const result = await verifyCapture(file.subarray(0, cut));
      expect(result.error?.reason).toBe("truncated-record");
      expect(result.error?.offset).toBe(last);
      expect(result.validBytes).toBe(last);
      expect(result.packets).toBe(offsets.length - 1);
    }
  });

  it("finds a cut pcapng block at the block's offset", async () => {
    const file = readFileSync(join(dir, "eth.pcapng"));
    const starts: number[] = [];
    for (let off = 0; off < file.length; off += file.readUInt32LE(off + 4)) starts.push(off);
    const last = starts.at(-1)!;
    for (const cut of [last + 3, last + 12, file.length - 4, file.length - 1]) {
      const result = await verifyCapture(file.subarray(0, cut));
      expect(result.error).toMatchObject({ reason: "truncated-record", offset: last });
      expect(result.validBytes).toBe(last);
    }
  });
});

describe("verify names the first problem and where it is", () => {
  it("reports an empty file as a truncated header at byte 0", async () => {
    expect(await problem(new Uint8Array(0))).toEqual({ reason: "truncated-header", offset: 0 });
  });

  it("reports a half header as truncated, and foreign bytes as bad magic", async () => {
    expect(await problem(classicHeader({}).subarray(0, 10))).toEqual({
      reason: "truncated-header",
      offset: 0,
    });
    expect(await problem(Uint8Array.of(0xd4, 0xc3))).toEqual({ reason: "truncated-header", offset: 0 });
    expect(await problem(Buffer.from("GET / HTTP/1.1\r\n\r\n"))).toEqual({ reason: "bad-magic", offset: 0 });
    expect(await problem(Buffer.from("PK"))).toEqual({ reason: "bad-magic", offset: 0 });
  });

  it("refuses pcap versions libpcap does not read", async () => {
    for (const [versionMajor, versionMinor] of [
      [3, 0],
      [1, 0],
      [2, 5],
    ] as const) {
      expect(await problem(classicHeader({ versionMajor, versionMinor }))).toEqual({
        reason: "unsupported-version",
        offset: 4,
      });
    }
  });

  it("reads a record over the snaplen cut to it and one over its original length as it is, counting both", async () => {
    const header = classicHeader({ snaplen: 200 });
    const good = classicRecord({ seconds: 1, fraction: 0, data: frame });
    const overSnap = classicRecord({ seconds: 2, fraction: 0, data: udpFrame(201) });
    const overOrig = classicRecord({ seconds: 3, fraction: 0, data: frame, origlen: 99 });
    const result = await verifyCapture(Buffer.concat([header, good, overSnap, overOrig, good]));
    expect(result).toMatchObject({
      complete: true,
      packets: 4,
      warnings: { "caplen-over-snaplen": 1, "caplen-over-origlen": 1, "fraction-over-second": 0 },
    });
  });

  it("reports a captured length over 262144 at the record, whatever the snaplen", async () => {
    const good = classicRecord({ seconds: 1, fraction: 0, data: frame });
    const at = 24 + good.length;
    for (const snaplen of [0, 200, 524288]) {
      const huge = Buffer.concat([
        classicHeader({ snaplen }),
        good,
        classicRecord({ seconds: 2, fraction: 0, data: frame, caplen: 262145, origlen: 262145 }),
      ]);
      expect(await problem(huge)).toEqual({ reason: "caplen-over-max", offset: at });
    }
  });

  it("refuses pcapng packets over their interface's snaplen, as libpcap does", async () => {
    const head = Buffer.concat([shb(le), idb(le, { snaplen: 99 })]);
    expect(await problem(Buffer.concat([head, epb(le, { units: 1n, data: frame })]))).toEqual({
      reason: "caplen-over-snaplen",
      offset: head.length + 20,
    });
  });

  it("reports pcapng block lengths that are short, unaligned or not repeated in the trailer", async () => {
    const head = Buffer.concat([shb(le), idb(le)]);
    const packet = epb(le, { units: 1n, data: frame });
    const unaligned = Buffer.from(packet);
    unaligned.writeUInt32LE(packet.length + 2, 4);
    expect(await problem(Buffer.concat([head, unaligned]))).toEqual({
      reason: "bad-block-length",
      offset: head.length + 4,
    });
    const short = Buffer.from(packet);
    short.writeUInt32LE(20, 4);
    expect(await problem(Buffer.concat([head, short]))).toEqual({
      reason: "bad-block-length",
      offset: head.length + 4,
    });
    const badTrailer = Buffer.from(packet);
    badTrailer.writeUInt32LE(packet.length + 4, packet.length - 4);
    expect(await problem(Buffer.concat([head, badTrailer]))).toEqual({
      reason: "bad-block-trailer",
      offset: head.length + packet.length - 4,
    });
    const skippedBadTrailer = block(0x00000bad, Buffer.alloc(16), le, { trailer: 999 });
    expect(await problem(Buffer.concat([head, skippedBadTrailer]))).toEqual({
      reason: "bad-block-trailer",
      offset: head.length + skippedBadTrailer.length - 4,
    });
  });

  it("reports a packet block whose captured length overruns the block", async () => {
    const head = Buffer.concat([shb(le), idb(le)]);
    const packet = epb(le, { units: 1n, data: frame, caplen: 400, origlen: 400 });
    expect(await problem(Buffer.concat([head, packet]))).toEqual({
      reason: "bad-block-length",
      offset: head.length + 4,
    });
  });

  it("reports packets of undescribed interfaces and broken options", async () => {
    const head = Buffer.concat([shb(le), idb(le)]);
    expect(await problem(Buffer.concat([head, epb(le, { interfaceId: 1, units: 1n, data: frame })]))).toEqual(
      {
        reason: "unknown-interface",
        offset: head.length + 8,
      },
    );
    const brokenIdb = Buffer.from(idb(le, { tsresol: 9 }));
    brokenIdb.writeUInt16LE(200, 16 + 2); // the if_tsresol option now claims 200 bytes
    expect(await problem(Buffer.concat([shb(le), brokenIdb]))).toEqual({
      reason: "bad-option",
      offset: 28 + 16,
    });
  });

  it("refuses a pcapng that does not start with a section header, or has a wrong byte-order magic", async () => {
    expect(await problem(idb(le))).toEqual({ reason: "bad-magic", offset: 0 });
    const badBom = Buffer.from(shb(le));
    badBom.writeUInt32LE(0x12345678, 8);
    expect(await problem(badBom)).toEqual({ reason: "bad-magic", offset: 8 });
  });

  it("reports a block longer than the buffering limit without allocating it", async () => {
    const head = Buffer.concat([shb(le), idb(le)]);
    const hostile = Buffer.from(epb(le, { units: 1n, data: frame }));
    hostile.writeUInt32LE(0xfffffff0, 4);
    const result = await verifyCapture(Buffer.concat([head, hostile]));
    expect(result.error).toMatchObject({ reason: "block-too-large", offset: head.length + 4 });
  });

  it("throws PcapFormatError objects that identify themselves", async () => {
    const { error } = await verifyCapture(Buffer.from("nope"));
    expect(PcapFormatError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: "ERR_PCAP_FORMAT", reason: "bad-magic", offset: 0 });
    expect(error?.message).toMatch(/not a pcap or pcapng file/);
    expect(PcapFormatError.isInstance(new Error("x"))).toBe(false);
  });
});

describe("inspect", () => {
  it("summarises a nanosecond big-endian capture with earliest and latest times", async () => {
    const beLe = false;
    const bytes = Buffer.concat([
      classicHeader({ le: beLe, nano: true, snaplen: 1500, linkType: 1 }),
      classicRecord({ le: beLe, seconds: 1700000005, fraction: 5, data: frame }),
      classicRecord({ le: beLe, seconds: 1700000001, fraction: 999_999_999, data: udpFrame(60) }),
      classicRecord({ le: beLe, seconds: 1700000009, fraction: 1, data: udpFrame(1500), origlen: 9000 }),
    ]);
    const summary = await inspectCapture(bytes);
    expect(summary).toMatchObject({
      format: "pcap",
      endianness: "big",
      precision: "nano",
      linkTypes: [1],
      snaplen: 1500,
      packets: 3,
      bytes: 100 + 60 + 1500,
      firstTime: { seconds: 1700000001, nanoseconds: 999_999_999 },
      lastTime: { seconds: 1700000009, nanoseconds: 1 },
      complete: true,
      error: null,
    });
  });

  it("reports no times for a capture without packets", async () => {
    const summary = await inspectCapture(classicHeader({}));
    expect(summary).toMatchObject({ packets: 0, firstTime: null, lastTime: null, complete: true });
  });

  it("reports no times, as capinfos, when a packet has none (a Simple Packet Block), and counts it", async () => {
    const only = await inspectCapture(Buffer.concat([shb(le), idb(le), spb(le, { data: frame })]));
    expect(only).toMatchObject({ packets: 1, firstTime: null, lastTime: null, complete: true });
    expect(only.warnings["no-timestamp"]).toBe(1);
    const mixed = await inspectCapture(
      Buffer.concat([
        shb(le),
        idb(le),
        epb(le, { units: 1_700_000_000_000_000n, data: frame }),
        spb(le, { data: frame }),
      ]),
    );
    expect(mixed).toMatchObject({ packets: 2, firstTime: null, lastTime: null });
  });

  it("sums original lengths as capinfos' data size, beside the captured bytes", async () => {
    const summary = await inspectCapture(
      Buffer.concat([
        classicHeader({ snaplen: 64 }),
        classicRecord({ seconds: 1, fraction: 0, data: udpFrame(64), origlen: 1500 }),
        classicRecord({ seconds: 2, fraction: 0, data: udpFrame(60) }),
      ]),
    );
    expect(summary).toMatchObject({ bytes: 124, originalBytes: 1560 });
  });
});
