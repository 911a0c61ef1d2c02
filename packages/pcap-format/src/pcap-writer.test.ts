import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Writable } from "node:stream";
import { editcap, missingTools, randpkt, tsharkFrames } from "@sluice/testlab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatTimestamp, PcapWriter, readCaptureSync, readPackets } from "./index.js";
import { classicHeader, classicRecord, swapClassic, udpFrame } from "./testing/builders.js";

const skip = missingTools("randpkt", "editcap", "tshark");
let dir = "";
const path = (name: string): string => join(dir, name);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "pcap-writer-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Reads a classic pcap and writes every packet back with the same header fields.
async function roundTrip(input: string, output: string): Promise<void> {
  const stream = readPackets(input);
  let writer: PcapWriter | null = null;
  for await (const packet of stream) {
    if (writer === null) {
      const [section] = stream.sections;
      const [iface] = stream.interfaces;
      writer = PcapWriter.create(output, {
        linkType: iface!.linkType,
        snaplen: iface!.snaplen,
        precision: iface!.resolution.exponent === 9 ? "nano" : "micro",
        endianness: section!.endianness,
        timezoneOffset: section!.timezoneOffset,
        sigfigs: section!.sigfigs,
      });
    }
    writer.writePacket(packet);
  }
  await writer!.close();
}

describe.skipIf(skip !== null)("round trips", () => {
  it("read → write → read gives byte-identical files in all four magics", async () => {
    randpkt(path("tcp.pcap"), "tcp", 500, 4000);
    await editcap(["-t", "1700000000.987654321", "-F", "nsecpcap", path("tcp.pcap"), path("nsec.pcap")]);
    await editcap(["-F", "pcap", path("nsec.pcap"), path("usec.pcap")]);
    writeFileSync(path("usec-be.pcap"), swapClassic(readFileSync(path("usec.pcap"))));
    writeFileSync(path("nsec-be.pcap"), swapClassic(readFileSync(path("nsec.pcap"))));
    for (const name of ["usec.pcap", "nsec.pcap", "usec-be.pcap", "nsec-be.pcap"]) {
      await roundTrip(path(name), path(`${name}.out`));
      expect(readFileSync(path(`${name}.out`)).equals(readFileSync(path(name)))).toBe(true);
    }
  });

  it("writes nanosecond timestamps that tshark reads back exactly", async () => {
    const file = path("nano.pcap");
    const writer = PcapWriter.create(file, { linkType: 1, precision: "nano" });
    const times = [
      [1700000000, 1],
      [1700000000, 999_999_999],
      [4294967295, 123_456_789],
    ] as const;
    for (const [seconds, nanoseconds] of times)
      writer.writePacket({ seconds, nanoseconds, data: udpFrame(80) });
    await writer.close();
    const frames = await tsharkFrames(file);
    expect(frames.map((f) => f.time)).toEqual(times.map(([s, n]) => formatTimestamp(s, n)));
  });
});

// A 16-byte little-endian record header with microsecond time `seconds`.0.
function recordHeader(seconds: number, length: number): Buffer {
  const header = Buffer.alloc(16);
  header.writeUInt32LE(seconds, 0);
  header.writeUInt32LE(length, 8);
  header.writeUInt32LE(length, 12);
  return header;
}

describe("PcapWriter", () => {
  it("cuts data to the snaplen and writes the original length as given", async () => {
    const file = path("snap.pcap");
    const writer = PcapWriter.create(file, { linkType: 1, snaplen: 64 });
    writer.writePacket({ seconds: 1, nanoseconds: 0, data: udpFrame(200) });
    writer.writePacket({ seconds: 2, nanoseconds: 0, data: udpFrame(50), originalLength: 10 });
    writer.writePacket({ seconds: 3, nanoseconds: 0, data: udpFrame(60) });
    await writer.close();
    const { packets, warnings } = readCaptureSync(readFileSync(file));
    expect(packets.map((p) => [p.data.length, p.originalLength])).toEqual([
      [64, 200],
      [50, 10],
      [60, 60],
    ]);
    expect(warnings["caplen-over-origlen"]).toBe(1);
    expect(Buffer.from(packets[0]!.data).equals(udpFrame(200).subarray(0, 64))).toBe(true);
  });

  it("writes records larger than its buffer on their own, in order, to a file and to a stream", async () => {
    const big = Buffer.alloc(200_000, 7);
    const packets = [udpFrame(60), big, udpFrame(70, 1), big, udpFrame(80, 2)];
    const file = path("large.pcap");
    const toFile = PcapWriter.create(file, { linkType: 1, bufferSize: 4096 });
    const chunks: Buffer[] = [];
    const stream = new Writable({
      write(chunk, _enc, done) {
        chunks.push(Buffer.from(chunk));
        done();
      },
    });
    const toStream = PcapWriter.create(stream, { linkType: 1, bufferSize: 4096 });
    for (const [i, data] of packets.entries()) {
      toFile.writeSlice(i, 0, data.length, data, 0, data.length);
      toStream.writeRecord(recordHeader(i, data.length), data, data.length);
    }
    await toFile.close();
    await toStream.close();
    for (const bytes of [readFileSync(file), Buffer.concat(chunks)]) {
      const read = readCaptureSync(bytes).packets;
      expect(read.map((p) => [p.seconds, p.data.length])).toEqual(packets.map((d, i) => [i, d.length]));
      expect(read.every((p, i) => Buffer.from(p.data).equals(packets[i]!))).toBe(true);
    }
  });

  it("keeps the upper bits of the link-type field it is given, and writes a snaplen above 262144", () => {
    const chunks: Buffer[] = [];
    const sink = new PassThrough().on("data", (c: Buffer) => chunks.push(c));
    const writer = PcapWriter.create(sink, { linkType: 1, linkTypeExtension: 0x30000000, snaplen: 524288 });
    writer.flushSync();
    const header = Buffer.concat(chunks);
    expect(header.readUInt32LE(20)).toBe(0x30000001);
    expect(header.readUInt32LE(16)).toBe(524288);
    expect(readCaptureSync(header).interfaces[0]).toMatchObject({
      linkType: 1,
      linkTypeExtension: 0x30000000,
    });
  });

  it("truncates nanoseconds to microseconds in a microsecond file", () => {
    const chunks: Buffer[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        chunks.push(chunk);
        done();
      },
    });
    const writer = PcapWriter.create(sink, { linkType: 1 });
    writer.writePacket({ seconds: 7, nanoseconds: 123_456_999, data: udpFrame(60) });
    return writer.close().then(() => {
      const [packet] = readCaptureSync(Buffer.concat(chunks)).packets;
      expect([packet!.seconds, packet!.nanoseconds]).toEqual([7, 123_456_000]);
    });
  });

  it("refuses timestamps a classic record cannot hold", () => {
    const writer = PcapWriter.create(new PassThrough(), { linkType: 1 });
    expect(() => writer.writePacket({ seconds: -1, nanoseconds: 0, data: udpFrame(60) })).toThrow(
      /timestamp-out-of-range/,
    );
    expect(() => writer.writePacket({ seconds: 2 ** 32, nanoseconds: 0, data: udpFrame(60) })).toThrow(
      /does not fit/,
    );
    writer.abort();
  });

  it("batches many packets into few large writes", async () => {
    const writes: number[] = [];
    const sink = new Writable({
      highWaterMark: 64 << 20,
      write(chunk: Buffer, _enc, done) {
        writes.push(chunk.length);
        done();
      },
    });
    const writer = PcapWriter.create(sink, { linkType: 1, bufferSize: 1 << 20 });
    const data = udpFrame(100);
    for (let i = 0; i < 50_000; i++) writer.writePacket({ seconds: i, nanoseconds: 0, data });
    await writer.close();
    const total = 24 + 50_000 * 116;
    expect(writes.reduce((a, b) => a + b, 0)).toBe(total);
    expect(writes.length).toBe(Math.ceil(total / (1 << 20)));
    // Every write but the last is a full buffer, short only of the record that did not fit.
    expect(writes.slice(0, -1).every((n) => n > (1 << 20) - 116)).toBe(true);
  });

  it("writes records whose header is already encoded, as libpcap hands them over", async () => {
    const chunks: Buffer[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        chunks.push(chunk);
        done();
      },
    });
    const writer = PcapWriter.create(sink, { linkType: 1, snaplen: 65535 });
    const header = Buffer.alloc(16);
    const scratch = Buffer.alloc(65535, 0xee); // a reused buffer longer than the packet
    for (let i = 0; i < 3; i++) {
      const frame = udpFrame(70 + i, i);
      frame.copy(scratch);
      header.writeUInt32LE(1700000000 + i, 0);
      header.writeUInt32LE(999_999 - i, 4);
      header.writeUInt32LE(frame.length, 8);
      header.writeUInt32LE(frame.length + 100, 12);
      writer.writeRecord(header, scratch, frame.length);
    }
    await writer.close();
    const { packets } = readCaptureSync(Buffer.concat(chunks));
    expect(packets.map((p) => [p.seconds, p.nanoseconds, p.data.length, p.originalLength])).toEqual([
      [1700000000, 999_999_000, 70, 170],
      [1700000001, 999_998_000, 71, 171],
      [1700000002, 999_997_000, 72, 172],
    ]);
    expect(Buffer.from(packets[2]!.data).equals(udpFrame(72, 2))).toBe(true);
  });

  it("writes to an fd at its current position", async () => {
    const file = path("fd.pcap");
    writeFileSync(file, "");
    const fd = openSync(file, "w");
    const writer = PcapWriter.create(fd, { linkType: 101 });
    writer.writePacket({ seconds: 1, nanoseconds: 0, data: udpFrame(60).subarray(14) });
    await writer.close();
    closeSync(fd);
    const capture = readCaptureSync(readFileSync(file));
    expect(capture.interfaces[0]!.linkType).toBe(101);
    expect(capture.packets).toHaveLength(1);
  });

  it("appends after the last record of a matching file", async () => {
    const file = path("append.pcap");
    const first = PcapWriter.create(file, { linkType: 1, precision: "nano", endianness: "big" });
    for (let i = 0; i < 10; i++) first.writePacket({ seconds: i, nanoseconds: i, data: udpFrame(60 + i) });
    await first.close();
    const before = readFileSync(file);
    const more = PcapWriter.append(file, { linkType: 1, precision: "nano" });
    expect(more.packets).toBe(10);
    for (let i = 10; i < 15; i++) more.writePacket({ seconds: i, nanoseconds: i, data: udpFrame(60 + i) });
    await more.close();
    const after = readFileSync(file);
    expect(after.subarray(0, before.length).equals(before)).toBe(true);
    const { packets, sections } = readCaptureSync(after);
    expect(sections[0]!.endianness).toBe("big");
    expect(packets.map((p) => p.seconds)).toEqual(Array.from({ length: 15 }, (_, i) => i));
  });

  it("refuses to append to a file whose header differs, naming the field", async () => {
    const file = path("mismatch.pcap");
    writeFileSync(file, classicHeader({ linkType: 113 }));
    expect(() => PcapWriter.append(file, { linkType: 1 })).toThrow(/linkType is 113, the writer's is 1/);
    expect(() => PcapWriter.append(file, { precision: "nano" })).toThrow(/precision is micro/);
  });

  it("refuses to append 2.4 records to an older version or to Kuznetsov's format", async () => {
    for (const [name, header] of [
      ["v22.pcap", classicHeader({ versionMinor: 2 })],
      ["kuznetsov.pcap", classicHeader({ kuznetsov: true })],
    ] as const) {
      writeFileSync(path(name), header);
      expect(() => PcapWriter.append(path(name))).toThrow(/header-mismatch/);
      expect(readFileSync(path(name)).equals(header)).toBe(true);
    }
  });

  it("refuses to append after a truncated record unless asked to repair it", async () => {
    const file = path("torn.pcap");
    const whole = Buffer.concat([
      classicHeader({}),
      classicRecord({ seconds: 1, fraction: 0, data: udpFrame(80) }),
    ]);
    writeFileSync(
      file,
      Buffer.concat([whole, classicRecord({ seconds: 2, fraction: 0, data: udpFrame(80) }).subarray(0, 30)]),
    );
    expect(() => PcapWriter.append(file)).toThrow(/truncated-record/);
    const writer = PcapWriter.append(file, { repairTruncated: true });
    writer.writePacket({ seconds: 3, nanoseconds: 0, data: udpFrame(70) });
    await writer.close();
    const { packets } = readCaptureSync(readFileSync(file));
    expect(packets.map((p) => [p.seconds, p.data.length])).toEqual([
      [1, 80],
      [3, 70],
    ]);
  });

  it("creates a missing file when appending with a link type", async () => {
    const file = path("new.pcap");
    const writer = PcapWriter.append(file, { linkType: 1 });
    writer.writePacket({ seconds: 1, nanoseconds: 0, data: udpFrame(60) });
    await writer.close();
    expect(readCaptureSync(readFileSync(file)).packets).toHaveLength(1);
  });
});
