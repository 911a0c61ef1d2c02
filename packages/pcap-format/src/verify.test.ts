import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { capinfos, editcap, missingTools, randpkt } from "@sluice/testlab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inspectCapture, PcapFormatError, type PcapFormatReason, verifyCapture } from "./index.js";
import { block, classicHeader, classicRecord, epb, idb, shb, udpFrame } from "./testing/builders.js";

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

  it("refuses a pcap version other than 2", async () => {
    expect(await problem(classicHeader({ versionMajor: 3 }))).toEqual({
      reason: "unsupported-version",
      offset: 4,
    });
  });

  it("reports caplen over the snaplen, over 262144 and over the original length at the record", async () => {
    const header = classicHeader({ snaplen: 200 });
    const good = classicRecord({ seconds: 1, fraction: 0, data: frame });
    const at = header.length + good.length;
    const overSnap = classicRecord({ seconds: 2, fraction: 0, data: udpFrame(201) });
    expect(await problem(Buffer.concat([header, good, overSnap]))).toEqual({
      reason: "caplen-over-snaplen",
      offset: at,
    });
    const huge = Buffer.concat([
      classicHeader({ snaplen: 0 }),
      good,
      classicRecord({ seconds: 2, fraction: 0, data: frame, caplen: 262145, origlen: 262145 }),
    ]);
    expect(await problem(huge)).toEqual({ reason: "caplen-over-max", offset: at });
    const overOrig = classicRecord({ seconds: 2, fraction: 0, data: frame, origlen: 99 });
    expect(await problem(Buffer.concat([header, good, overOrig]))).toEqual({
      reason: "caplen-over-origlen",
      offset: at,
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
});
