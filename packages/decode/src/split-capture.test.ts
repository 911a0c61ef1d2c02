import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LinkType, PcapFormatError, PcapWriter, readCaptureSync } from "@sluice/pcap-format";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FlowHasher } from "./flow-hasher.js";
import { splitCapture } from "./split-capture.js";
import { tcpFrame } from "./testing/frames.js";

let dir = "";
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "sluice-split-unit-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

// 60 connections, packets in bursts of 1 to 5 per connection, alternating direction, sizes 10..300.
async function writeInput(path: string, endianness: "little" | "big"): Promise<void> {
  const writer = PcapWriter.create(path, { linkType: LinkType.ETHERNET, precision: "nano", endianness });
  for (let i = 0; i < 600; i++) {
    const flow = (i * 7) % 60;
    const burst = (i % 5) + 1;
    for (let j = 0; j < burst; j++) {
      writer.writePacket({
        seconds: 1_700_000_000 + i,
        nanoseconds: j * 1000 + 7,
        data: tcpFrame(20000 + flow, 443, (i + j) % 2 === 1, 10 + ((i * 13 + j) % 290)),
      });
    }
  }
  await writer.close();
}

function recordsOf(path: string): string[] {
  const bytes = readFileSync(path);
  return readCaptureSync(bytes).packets.map((p) =>
    Buffer.from(bytes.buffer, p.data.byteOffset - 16, p.data.length + 16).toString("hex"),
  );
}

// Minimal little-endian pcapng blocks (pcap-format's test builders are not exported).
function pcapngBlock(type: number, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32LE(type, 0);
  head.writeUInt32LE(12 + body.length, 4);
  const tail = Buffer.alloc(4);
  tail.writeUInt32LE(12 + body.length, 0);
  return Buffer.concat([head, body, tail]);
}

function sectionHeader(): Buffer {
  const body = Buffer.alloc(16, 0xff);
  body.writeUInt32LE(0x1a2b3c4d, 0);
  body.writeUInt32LE(1, 4);
  return pcapngBlock(0x0a0d0d0a, body);
}

function interfaceBlock(tsoffset: bigint): Buffer {
  const body = Buffer.alloc(8 + 12 + 4);
  body.writeUInt16LE(LinkType.ETHERNET, 0);
  body.writeUInt16LE(14, 8); // if_tsoffset
  body.writeUInt16LE(8, 10);
  body.writeBigInt64LE(tsoffset, 12);
  return pcapngBlock(1, body);
}

function enhancedPacket(
  interfaceId: number,
  micros: bigint,
  data: Uint8Array,
  origlen = data.length,
): Buffer {
  const body = Buffer.alloc(20 + data.length + ((4 - (data.length % 4)) % 4));
  body.writeUInt32LE(interfaceId, 0);
  body.writeUInt32LE(Number(micros >> 32n), 4);
  body.writeUInt32LE(Number(micros & 0xffffffffn), 8);
  body.writeUInt32LE(data.length, 12);
  body.writeUInt32LE(origlen, 16);
  body.set(data, 20);
  return pcapngBlock(6, body);
}

describe("splitCapture", () => {
  for (const endianness of ["little", "big"] as const) {
    for (const chunkSize of [97, 4096, 1 << 17]) {
      it(`copies every ${endianness}-endian record once, in order, read in ${chunkSize}-byte chunks`, async () => {
        await writeInput(join(dir, "in.pcap"), endianness);
        const result = await splitCapture(join(dir, "in.pcap"), {
          directory: dir,
          name: "in",
          parts: 3,
          chunkSize,
        });
        expect(result.error).toBeNull();
        const input = recordsOf(join(dir, "in.pcap"));
        const order = new Map(input.map((r, i) => [r, i]));
        const seen: number[] = [];
        const hasher = new FlowHasher();
        for (const part of result.parts) {
          const bytes = readFileSync(part.path);
          expect(bytes.subarray(0, 24)).toEqual(readFileSync(join(dir, "in.pcap")).subarray(0, 24));
          const indexes = recordsOf(part.path).map((r) => order.get(r)!);
          expect(indexes).toEqual([...indexes].sort((a, b) => a - b));
          seen.push(...indexes);
          // Every packet of a part hashes to that part.
          for (const p of readCaptureSync(bytes).packets) expect(hasher.hashRecord(p) % 3).toBe(part.part);
        }
        expect(seen.sort((a, b) => a - b)).toEqual(input.map((_, i) => i));
        expect(result.packets).toBe(input.length);
      });
    }
  }

  it("refuses to be asked for both parts and nodes, or for neither", async () => {
    await expect(splitCapture(join(dir, "x"), { directory: dir, name: "x" })).rejects.toThrow(
      /parts or nodes/,
    );
    await expect(
      splitCapture(join(dir, "x"), { directory: dir, name: "x", parts: 2, nodes: ["a"] }),
    ).rejects.toThrow(/parts or nodes/);
  });

  it("stops at a time classic pcap cannot hold, names its input offset, and leaves no empty part", async () => {
    // pcapng: interface 0 in 2023, interface 1 shifted before 1970 by if_tsoffset.
    const early = tcpFrame(20001, 443, false, 100);
    const late = tcpFrame(20002, 443, false, 100);
    const head = Buffer.concat([sectionHeader(), interfaceBlock(0n), interfaceBlock(-2_000_000_000n)]);
    const bad = enhancedPacket(1, 1_700_000_000_000_000n, late);
    const input = Buffer.concat([head, bad, enhancedPacket(0, 1_700_000_001_000_000n, early)]);
    const result = await splitCapture(input, { directory: dir, name: "in", parts: 4 });
    expect(result.error).toMatchObject({ reason: "timestamp-out-of-range", offset: head.length });
    expect(result).toMatchObject({ packets: 0, parts: [] });
    expect(readdirSync(dir)).toEqual([]);
  });

  it("counts the packets it reads on from with a warning", async () => {
    const head = Buffer.concat([sectionHeader(), interfaceBlock(0n)]);
    const packet = enhancedPacket(0, 1_700_000_000_000_000n, tcpFrame(20001, 443, false, 100), 60);
    const result = await splitCapture(Buffer.concat([head, packet]), {
      directory: dir,
      name: "in",
      parts: 2,
    });
    expect(result).toMatchObject({ error: null, packets: 1, warnings: { "caplen-over-origlen": 1 } });
  });

  it("writes nothing and throws a PcapFormatError for bytes that are not a capture", async () => {
    const source = new Uint8Array(100).fill(7);
    const failure = await splitCapture(source, { directory: dir, name: "x", parts: 2 }).catch(
      (e: unknown) => e,
    );
    expect(PcapFormatError.isInstance(failure) && failure.reason).toBe("bad-magic");
    expect(readdirSync(dir)).toEqual([]);
  });
});
