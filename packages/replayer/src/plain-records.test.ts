// The inject loop lets the packet-io addon's RecordScanner take a chunk's plain records (DecoderSink.records)
// and the decoder read the rest. Whatever the input and however it is chunked, the records must come out
// as the decoder alone hands them on: the same bytes in the same order, the same warnings, the same error
// at the same offset; and the scanner takes no frame over the limits it was given.

import { loadAddon, RecordScanner } from "@sluice/packet-io";
import { LinkType, PcapFormatError } from "@sluice/pcap-format";
import { CaptureDecoder, type DecoderSink } from "@sluice/pcap-format/low-level";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { classicCapture, PcapngBuilder } from "./testing/capture-files.js";

const status = loadAddon();
const reason = status.addon ? null : `the packet-io addon (${status.reason})`;
if (reason) console.warn(`skipping plain-record scan tests: they need ${reason}`);

interface Outcome {
  frames: string[];
  warnings: string[];
  error: string | null;
  /** Records the scanner took. */
  scanned: number;
}

/** Frame limits as the inject loop passes them: MTU plus header, and 4 more for an 802.1Q tag. */
interface Limits {
  frame: number;
  tagged: number;
}

/** Positions the scanner writes into: a small run, so scans stop for room and go on from `FIRST`. */
const CAPACITY = 9;
const FIRST = 2;

function limitOf(data: Uint8Array, limits: Limits): number {
  return data.length >= 14 && data[12] === 0x81 && data[13] === 0x00 ? limits.tagged : limits.frame;
}

/** Decodes `bytes` fed in `chunkSizes` (cycled); with `limits`, the scanner takes what it may. */
function decode(bytes: Uint8Array, chunkSizes: number[], limits: Limits | null): Outcome {
  const outcome: Outcome = { frames: [], warnings: [], error: null, scanned: 0 };
  const hexOf = (buf: Uint8Array, start: number, length: number) =>
    Buffer.from(buf.subarray(start, start + length)).toString("hex");
  const sink: DecoderSink = {
    packet(buf, offset, caplen) {
      outcome.frames.push(hexOf(buf, offset, caplen));
    },
    warning(warning, inputOffset) {
      outcome.warnings.push(`${warning}@${inputOffset}`);
    },
  };
  if (limits) {
    const scanner = new RecordScanner(status.addon!);
    const positions = new Uint32Array(2 * CAPACITY);
    sink.records = (buf, offset, end, layout) => {
      let to = offset;
      for (;;) {
        to = scanner.scan(buf, to, end, layout, limits.frame, limits.tagged, positions, FIRST, CAPACITY);
        for (let i = FIRST; i < FIRST + scanner.count; i++) {
          const start = positions[2 * i]!;
          const length = positions[2 * i + 1]!;
          expect(length).toBeLessThanOrEqual(limitOf(buf.subarray(start, start + length), limits));
          outcome.frames.push(hexOf(buf, start, length));
        }
        outcome.scanned += scanner.count;
        if (scanner.count < CAPACITY - FIRST || to >= end) return to;
      }
    };
  }
  const decoder = new CaptureDecoder(sink, { maxBlockLength: 1 << 16 });
  try {
    for (let off = 0, i = 0; off < bytes.length; i++) {
      const size = chunkSizes[i % chunkSizes.length]!;
      decoder.push(bytes.subarray(off, off + size));
      off += size;
    }
    decoder.end();
  } catch (caught) {
    if (!PcapFormatError.isInstance(caught)) throw caught;
    outcome.error = `${caught.reason}@${caught.offset}`;
  }
  return outcome;
}

/** An Ethernet frame of 14 to 1600 bytes, sometimes 802.1Q- or 802.1ad-tagged. */
const frameArb = fc
  .record({
    size: fc.oneof(fc.integer({ min: 14, max: 200 }), fc.integer({ min: 1500, max: 1600 })),
    ethertype: fc.constantFrom(0x0800, 0x8100, 0x88a8, 0x88b5),
    fill: fc.integer({ min: 0, max: 255 }),
  })
  .map(({ size, ethertype, fill }) => {
    const data = Buffer.alloc(size, fill);
    data.writeUInt16BE(ethertype, 12);
    return data;
  });

/** Mostly the frame's own length; sometimes less (captured > original) or more. */
const origDeltaArb = fc.oneof(
  { weight: 6, arbitrary: fc.constant(0) },
  { weight: 1, arbitrary: fc.integer({ min: -20, max: 20 }) },
);

const classicArb = fc
  .record({
    littleEndian: fc.boolean(),
    nano: fc.boolean(),
    snaplen: fc.constantFrom(0, 64, 1000, 1514, 262144),
    records: fc.array(
      fc.record({
        data: frameArb,
        origDelta: origDeltaArb,
        fraction: fc.oneof(
          { weight: 6, arbitrary: fc.integer({ min: 0, max: 999_999 }) },
          { weight: 1, arbitrary: fc.integer({ min: 1_000_000, max: 2 ** 32 - 1 }) },
        ),
      }),
      { maxLength: 40 },
    ),
  })
  .map(({ littleEndian, nano, snaplen, records }) =>
    classicCapture(
      snaplen,
      records.map((r) => ({
        data: r.data,
        origlen: Math.max(0, r.data.length + r.origDelta),
        fraction: r.fraction,
      })),
      { littleEndian, nano },
    ),
  );

type Item =
  | { kind: "epb"; iface: number; data: Buffer; origDelta: number; flags: boolean }
  | { kind: "spb"; data: Buffer }
  | { kind: "isb" }
  | { kind: "idb"; linkType: number; snaplen: number }
  | { kind: "custom"; size: number };

const idbArb = fc.record({
  kind: fc.constant("idb" as const),
  linkType: fc.constantFrom(LinkType.ETHERNET, LinkType.RAW),
  snaplen: fc.constantFrom(0, 100, 1514, 65535),
});

const itemArb: fc.Arbitrary<Item> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({
      kind: fc.constant("epb" as const),
      iface: fc.oneof(
        { weight: 8, arbitrary: fc.integer({ min: 0, max: 1 }) },
        { weight: 1, arbitrary: fc.constant(3) },
      ),
      data: frameArb,
      origDelta: origDeltaArb,
      flags: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("spb" as const), data: frameArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("isb" as const) }) },
  { weight: 1, arbitrary: idbArb },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("custom" as const), size: fc.integer({ min: 0, max: 40 }) }),
  },
);

/** Sections of either byte order, each with its interfaces, then packets and other blocks mixed. */
const pcapngArb = fc
  .array(
    fc.record({
      littleEndian: fc.boolean(),
      interfaces: fc.array(idbArb, { minLength: 1, maxLength: 2 }),
      items: fc.array(itemArb, { maxLength: 30 }),
    }),
    { minLength: 1, maxLength: 3 },
  )
  .map((sections) =>
    Buffer.concat(
      sections.flatMap(({ littleEndian, interfaces, items }) => {
        const b = new PcapngBuilder(littleEndian);
        const blocks = [
          b.sectionHeader(),
          ...interfaces.map((i) => b.interfaceDescription(i.linkType, i.snaplen)),
        ];
        items.forEach((item, n) => {
          if (item.kind === "epb") {
            const origlen = Math.max(0, item.data.length + item.origDelta);
            blocks.push(b.packet(item.iface, n, item.data, { origlen, ...(item.flags ? { flags: 1 } : {}) }));
          } else if (item.kind === "spb") blocks.push(b.simplePacket(item.data));
          else if (item.kind === "isb") blocks.push(b.statistics(0, n));
          else if (item.kind === "idb") blocks.push(b.interfaceDescription(item.linkType, item.snaplen));
          else blocks.push(b.block(0x00000bad, Buffer.alloc(item.size, 0xbd)));
        });
        return blocks;
      }),
    ),
  );

/** Some of a file's bytes overwritten, and maybe its end cut off: hostile input. */
const hostile = (file: fc.Arbitrary<Buffer>) =>
  fc
    .tuple(
      file,
      fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 255 })), {
        maxLength: 4,
      }),
      fc.option(fc.double({ min: 0, max: 1, noNaN: true })),
    )
    .map(([bytes, flips, cut]) => {
      const copy = Buffer.from(bytes);
      for (const [at, value] of flips) if (copy.length > 0) copy[Math.floor(at * (copy.length - 1))] = value;
      return cut === null ? copy : copy.subarray(0, Math.floor(cut * copy.length));
    });

const chunksArb = fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 4 });
const limitsArb = fc.constantFrom<Limits>(
  { frame: 0xffffffff, tagged: 0xffffffff },
  { frame: 1514, tagged: 1518 },
  { frame: 100, tagged: 104 },
  { frame: 1500, tagged: 1500 },
);

describe.skipIf(reason !== null)("the addon's record scan beside the decoder", () => {
  it.each([
    ["classic pcap", classicArb],
    ["pcapng", pcapngArb],
    ["hostile classic pcap", hostile(classicArb)],
    ["hostile pcapng", hostile(pcapngArb)],
  ] as const)(
    "%s: the same frames, warnings and error as the decoder alone, however chunked",
    (_name, files) => {
      fc.assert(
        fc.property(files, chunksArb, limitsArb, (bytes, chunks, limits) => {
          const alone = decode(bytes, [bytes.length || 1], null);
          expect(decode(bytes, chunks, limits)).toEqual({ ...alone, scanned: expect.any(Number) });
          expect(decode(bytes, [bytes.length || 1], limits)).toEqual({
            ...alone,
            scanned: expect.any(Number),
          });
        }),
        { numRuns: 300 },
      );
    },
  );

  it.each([true, false])(
    "takes every record of a plain file in one piece (little-endian %s)",
    (littleEndian) => {
      const frames = Array.from({ length: 100 }, (_, i) => Buffer.alloc(60 + i, i));
      const b = new PcapngBuilder(littleEndian);
      const pcapng = Buffer.concat([
        b.sectionHeader(),
        b.interfaceDescription(LinkType.ETHERNET, 0),
        ...frames.map((data, i) => b.packet(0, i, data)),
      ]);
      const classic = classicCapture(
        262144,
        frames.map((data) => ({ data })),
        { littleEndian },
      );
      const limits = { frame: 1514, tagged: 1518 };
      for (const bytes of [pcapng, classic]) {
        const outcome = decode(bytes, [bytes.length], limits);
        expect(outcome.scanned).toBe(100);
        expect(outcome.frames).toEqual(frames.map((f) => f.toString("hex")));
      }
    },
  );
});
