// DecoderSink.records: a sink that takes the plain records itself must see, together with its packet()
// calls, exactly the packets, warnings and error of a decode without it, however the input is chunked.
// The sink here implements PlainRecords from its documentation (not from the decoders' code).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { effectiveSnaplen, maxCaptureLengthFor } from "./constants.js";
import { PcapFormatError } from "./index.js";
import {
  CaptureDecoder,
  type CaptureDecoderOptions,
  type DecoderSink,
  type PlainRecords,
} from "./low-level.js";
import {
  block,
  classicHeader,
  classicRecord,
  customBlock,
  epb,
  idb,
  opb,
  shb,
  spb,
} from "./testing/builders.js";

/** A capture and, when it was built rather than mutated, where each of its records and blocks starts. */
interface Capture {
  bytes: Buffer;
  boundaries: ReadonlySet<number> | null;
}

/** What a bulk sink took at an offer: `[dataOffset, capturedLength]` in `buf`, and where it stopped. */
interface Taken {
  next: number;
  records: Array<readonly [number, number]>;
}

type Hook = (buf: Uint8Array, offset: number, end: number, layout: PlainRecords) => Taken;

interface Outcome {
  /** `<data offset in the input>+<captured length>` of every packet, taken in bulk or by packet(). */
  packets: string[];
  /** What packet() was told, keyed by the packet's data offset in the input. */
  details: Map<number, string>;
  warnings: string[];
  counts: string;
  error: string | null;
  offers: number;
  taken: number;
}

const MAX_BLOCK_DEFAULT = 16 << 20;

/** The records PlainRecords allows at `buf[offset, end)`, at most `max` of them, read as its TSDoc says. */
function plainRecordsAt(
  buf: Uint8Array,
  offset: number,
  end: number,
  layout: PlainRecords,
  max: number,
): Taken {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const at = (o: number): number => view.getUint32(o, layout.littleEndian);
  const records: Array<readonly [number, number]> = [];
  let off = offset;
  if (layout.format === "pcap") {
    while (records.length < max && end - off >= 16) {
      const fraction = at(off + 4);
      const captured = at(off + 8);
      const original = at(off + 12);
      if (captured > layout.maxCapturedLength || captured > original) break;
      if (fraction >= layout.fractionLimit || off + 16 + captured > end) break;
      records.push([off + 16, captured]);
      off += 16 + captured;
    }
  } else {
    while (records.length < max && end - off >= 32) {
      const length = at(off + 4);
      if (at(off) !== 6 || length % 4 !== 0 || length < 32 || length > layout.maxBlockLength) break;
      if (off + length > end || at(off + length - 4) !== length) break;
      const iface = at(off + 8);
      const captured = at(off + 20);
      const padded = captured + ((4 - (captured % 4)) % 4);
      if (28 + padded > length - 4 || captured > at(off + 24)) break;
      if (captured > layout.maxCapturedLength || iface >= layout.interfaceSnaplens.length) break;
      if (captured > layout.interfaceSnaplens[iface]!) break;
      records.push([off + 28, captured]);
      off += length;
    }
  }
  return { next: off, records };
}

/**
 * Decodes `capture` pushed in `chunkSizes` (cycled), with `hook` as the sink's records when given, and
 * checks each offer as it comes: within its buffer, at a boundary, with the layout the section and
 * interfaces so far call for, and never where the hook stopped last without a record read in between.
 */
function decodeCapture(
  capture: Capture,
  chunkSizes: readonly number[],
  options: CaptureDecoderOptions,
  hook?: Hook,
): Outcome {
  const { bytes, boundaries } = capture;
  const starts = new Map<Uint8Array, number>();
  let decoder: CaptureDecoder | null = null;
  // A buffer that is not a pushed chunk is the decoder's own, which starts where its reading stands.
  const absolute = (buf: Uint8Array, offset: number): number => (starts.get(buf) ?? decoder!.offset) + offset;
  const packets: string[] = [];
  const details = new Map<number, string>();
  const warnings: string[] = [];
  let offers = 0;
  let taken = 0;
  let stop: { buf: Uint8Array; at: number } | null = null;
  let section: { le: boolean; format: "pcap" | "pcapng" } | null = null;
  let interfaces: Array<{ linkType: number; snaplen: number; nano: boolean }> = [];

  const expectedLayout = (): PlainRecords => {
    if (section!.format === "pcapng") {
      return {
        format: "pcapng",
        littleEndian: section!.le,
        maxBlockLength: options.maxBlockLength ?? MAX_BLOCK_DEFAULT,
        maxCapturedLength: options.maxCaptureLength ?? 0xffffffff,
        interfaceSnaplens: interfaces.map((i) => effectiveSnaplen(i.linkType, i.snaplen)),
      };
    }
    const iface = interfaces[0]!;
    const max = options.maxCaptureLength ?? maxCaptureLengthFor(iface.linkType);
    return {
      format: "pcap",
      littleEndian: section!.le,
      maxCapturedLength: Math.min(effectiveSnaplen(iface.linkType, iface.snaplen), max),
      fractionLimit: iface.nano ? 1e9 : 1e6,
    };
  };

  const record = (buf: Uint8Array, dataOffset: number, length: number): number => {
    const at = absolute(buf, dataOffset);
    expect(
      Buffer.compare(buf.subarray(dataOffset, dataOffset + length), bytes.subarray(at, at + length)),
    ).toBe(0);
    packets.push(`${at}+${length}`);
    return at;
  };

  const sink: DecoderSink = {
    packet(buf, dataOffset, length, original, seconds, nanoseconds, interfaceId, recordOffset, inputOffset) {
      const at = record(buf, dataOffset, length);
      const copy = recordOffset === -1 ? -1 : absolute(buf, recordOffset);
      details.set(at, `${seconds}.${nanoseconds}/${original}/${interfaceId}/${copy}@${inputOffset}`);
    },
    section(info) {
      section = { le: info.endianness === "little", format: info.format };
      interfaces = [];
    },
    interface(info) {
      interfaces.push({
        linkType: info.linkType,
        snaplen: info.snaplen,
        nano: info.resolution.exponent === 9,
      });
    },
    warning(warning, inputOffset) {
      warnings.push(`${warning}@${inputOffset}`);
    },
  };
  if (hook) {
    sink.records = (buf, offset, end, layout) => {
      offers++;
      expect(0 <= offset && offset <= end && end <= buf.length).toBe(true);
      if (stop !== null && stop.buf === buf) expect(offset).toBeGreaterThan(stop.at);
      stop = null;
      if (boundaries) expect(boundaries.has(absolute(buf, offset))).toBe(true);
      expect(layout).toEqual(expectedLayout());
      const { next, records } = hook(buf, offset, end, layout);
      for (const [dataOffset, length] of records) record(buf, dataOffset, length);
      taken += records.length;
      if (next !== offset) stop = { buf, at: next };
      return next;
    };
  }
  decoder = new CaptureDecoder(sink, options);
  let error: string | null = null;
  try {
    let off = 0;
    for (let i = 0; off < bytes.length; i++) {
      const chunk = bytes.subarray(off, off + Math.max(1, chunkSizes[i % chunkSizes.length]!));
      starts.set(chunk, off);
      off += chunk.length;
      decoder.push(chunk);
    }
    decoder.end();
  } catch (caught) {
    if (!PcapFormatError.isInstance(caught)) throw caught;
    error = `${caught.reason}@${caught.offset}`;
  }
  return { packets, details, warnings, counts: JSON.stringify(decoder.warnings), error, offers, taken };
}

/** A decode of `capture` with a sink that takes up to `max` plain records per offer equals one without. */
function expectSameDecode(
  capture: Capture,
  chunkSizes: readonly number[],
  options: CaptureDecoderOptions,
  hook: Hook,
): Outcome {
  const plain = decodeCapture(capture, [capture.bytes.length || 1], options);
  const bulk = decodeCapture(capture, chunkSizes, options, hook);
  expect(bulk.packets).toEqual(plain.packets);
  expect(bulk.warnings).toEqual(plain.warnings);
  expect(bulk.counts).toEqual(plain.counts);
  expect(bulk.error).toEqual(plain.error);
  for (const [at, detail] of bulk.details) expect(detail).toBe(plain.details.get(at));
  expect(bulk.details.size + bulk.taken).toBe(plain.details.size);
  return bulk;
}

const frame = (length: number, seed: number): Buffer =>
  Buffer.from(Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff));

function assemble(parts: readonly Buffer[], cut: number): Capture {
  const boundaries = new Set<number>();
  let at = 0;
  for (const part of parts) {
    boundaries.add(at);
    at += part.length;
  }
  boundaries.add(at);
  const bytes = Buffer.concat(parts);
  return { bytes: bytes.subarray(0, Math.max(0, bytes.length - cut)), boundaries };
}

const classicKind = fc.oneof(
  { arbitrary: fc.constant("plain" as const), weight: 12 },
  { arbitrary: fc.constant("over-origlen" as const), weight: 1 },
  { arbitrary: fc.constant("fraction" as const), weight: 1 },
  { arbitrary: fc.constant("over-snaplen" as const), weight: 1 },
  { arbitrary: fc.constant("over-max" as const), weight: 1 },
);

/** Classic pcap in either byte order and magic, with records that warn or fail among plain ones. */
const classicCapture: fc.Arbitrary<Capture> = fc
  .record({
    le: fc.boolean(),
    nano: fc.boolean(),
    snaplen: fc.constantFrom(0, 64, 200, 1514, 65535),
    version: fc.constantFrom([2, 4], [2, 4], [2, 4], [2, 2]),
    records: fc.array(
      fc.record({
        kind: classicKind,
        length: fc.nat({ max: 300 }),
        extra: fc.nat({ max: 3 }),
        fraction: fc.nat({ max: 999_999 }),
      }),
      { maxLength: 24 },
    ),
    cut: fc.oneof({ arbitrary: fc.constant(0), weight: 4 }, { arbitrary: fc.nat({ max: 40 }), weight: 1 }),
  })
  .map(({ le, nano, snaplen, version, records, cut }) => {
    const limit = nano ? 1e9 : 1e6;
    const parts = [
      classicHeader({ le, nano, snaplen, versionMajor: version[0]!, versionMinor: version[1]! }),
    ];
    records.forEach(({ kind, length, extra, fraction }, i) => {
      const snap = effectiveSnaplen(1, snaplen);
      let data = frame(kind === "over-snaplen" ? snap + 1 + extra : Math.min(length, snap), i);
      if (data.length > 400) data = frame(Math.min(length, snap), i);
      const caplen = kind === "over-max" ? 262_145 + extra : data.length;
      parts.push(
        classicRecord({
          le,
          seconds: 1_700_000_000 + i,
          fraction: kind === "fraction" ? limit + fraction : fraction,
          data,
          caplen,
          origlen: kind === "over-origlen" ? Math.max(0, caplen - 1 - extra) : caplen + extra,
        }),
      );
    });
    return assemble(parts, cut);
  });

const ngKind = fc.oneof(
  { arbitrary: fc.constant("epb" as const), weight: 16 },
  { arbitrary: fc.constant("epb-options" as const), weight: 2 },
  { arbitrary: fc.constant("idb" as const), weight: 1 },
  { arbitrary: fc.constant("spb" as const), weight: 1 },
  { arbitrary: fc.constant("opb" as const), weight: 1 },
  { arbitrary: fc.constant("custom" as const), weight: 1 },
  { arbitrary: fc.constant("statistics" as const), weight: 1 },
  { arbitrary: fc.constant("over-origlen" as const), weight: 1 },
  { arbitrary: fc.constant("over-snaplen" as const), weight: 1 },
  { arbitrary: fc.constant("no-interface" as const), weight: 1 },
  { arbitrary: fc.constant("bad-trailer" as const), weight: 1 },
  { arbitrary: fc.constant("short-block" as const), weight: 1 },
);

const ngSection = fc.record({
  le: fc.boolean(),
  snaplens: fc.array(fc.constantFrom(0, 60, 128, 1514, 65535), { minLength: 0, maxLength: 3 }),
  blocks: fc.array(
    fc.record({
      kind: ngKind,
      iface: fc.nat({ max: 3 }),
      length: fc.nat({ max: 300 }),
      extra: fc.nat({ max: 3 }),
    }),
    { maxLength: 16 },
  ),
});

/**
 * pcapng of one to three sections in either byte order, interfaces with different snaplens (some added
 * between packets), Enhanced, Simple and obsolete Packet Blocks, blocks to skip, and blocks that warn or fail.
 */
const pcapngCapture: fc.Arbitrary<Capture> = fc
  .record({
    sections: fc.array(ngSection, { minLength: 1, maxLength: 3 }),
    cut: fc.oneof({ arbitrary: fc.constant(0), weight: 4 }, { arbitrary: fc.nat({ max: 40 }), weight: 1 }),
  })
  .map(({ sections, cut }) => {
    const parts: Buffer[] = [];
    let n = 0;
    for (const { le, snaplens: initial, blocks } of sections) {
      parts.push(shb(le));
      const snaplens: number[] = [...initial];
      for (const snaplen of snaplens) parts.push(idb(le, { snaplen, tsresol: 9 }));
      for (const { kind, iface, length, extra } of blocks) {
        n++;
        const units = 1_700_000_000_000_000_000n + BigInt(n) * 1_000_003n;
        const known = snaplens.length;
        const id = known === 0 ? 0 : iface % known;
        const snap = known === 0 ? 0 : effectiveSnaplen(1, snaplens[id]!);
        const data = frame(Math.min(length, snap), n);
        switch (kind) {
          case "epb":
            parts.push(epb(le, { interfaceId: id, units, data, origlen: data.length + extra }));
            break;
          case "epb-options":
            parts.push(
              epb(le, { interfaceId: id, units, data, options: [{ code: 1, value: frame(extra + 1, n) }] }),
            );
            break;
          case "idb":
            snaplens.push([60, 1514, 0][iface % 3]!);
            parts.push(idb(le, { snaplen: snaplens.at(-1)!, tsresol: 6 }));
            break;
          case "spb":
            parts.push(spb(le, { data }));
            break;
          case "opb":
            parts.push(opb(le, { interfaceId: id, units, data }));
            break;
          case "custom":
            parts.push(customBlock(le, frame(length % 40, n)));
            break;
          case "statistics":
            parts.push(block(5, frame(20 + 4 * extra, n), le));
            break;
          case "over-origlen":
            parts.push(
              epb(le, { interfaceId: id, units, data, origlen: Math.max(0, data.length - 1 - extra) }),
            );
            break;
          case "over-snaplen": {
            const over = snap < 300 ? frame(snap + 1 + extra, n) : data;
            parts.push(epb(le, { interfaceId: id, units, data: over }));
            break;
          }
          case "no-interface":
            parts.push(epb(le, { interfaceId: known + extra, units, data }));
            break;
          case "bad-trailer":
            parts.push(
              block(6, epb(le, { interfaceId: id, units, data }).subarray(8, -4), le, { trailer: 0x40 }),
            );
            break;
          case "short-block": {
            const b = epb(le, { interfaceId: id, units, data });
            parts.push(block(6, b.subarray(8, -4), le, { length: 28 }));
            break;
          }
        }
      }
    }
    return assemble(parts, cut);
  });

const capture = fc.oneof(classicCapture, pcapngCapture);

// Overwrites with values that break naive parsers, as hostile-input.test.ts does; boundaries are lost.
const mutated: fc.Arbitrary<Capture> = fc
  .record({
    capture,
    edits: fc.array(
      fc.record({
        at: fc.nat(),
        le: fc.boolean(),
        value: fc.oneof(fc.constantFrom(0, 1, 12, 28, 32, 0xfffffffc, 0xffffffff, 0x80000000, 6), fc.nat()),
      }),
      { minLength: 1, maxLength: 4 },
    ),
  })
  .map(({ capture, edits }) => {
    const bytes = Buffer.from(capture.bytes);
    for (const { at, le, value } of edits) {
      if (bytes.length < 4) break;
      const pos = at % (bytes.length - 3);
      if (le) bytes.writeUInt32LE(value >>> 0, pos);
      else bytes.writeUInt32BE(value >>> 0, pos);
    }
    return { bytes, boundaries: null };
  });

const chunking = fc.oneof(
  fc.array(fc.integer({ min: 1, max: 600 }), { minLength: 1, maxLength: 8 }),
  fc.constant([1]),
  fc.constant([1 << 30]),
);

const limits: fc.Arbitrary<CaptureDecoderOptions> = fc.oneof(
  fc.constant({}),
  fc.record({ maxCaptureLength: fc.constantFrom(100, 1000) }),
  fc.record({ maxBlockLength: fc.constantFrom(128, 400) }),
);

// A sink may take fewer than all plain records (the native scan stops when its positions are full).
const most = fc.constantFrom(0, 1, 2, 5, Number.POSITIVE_INFINITY);

describe("a sink that takes plain records in bulk", () => {
  it("sees the packets, warnings and error of a decode without it, in order, however pcap is chunked", () => {
    let taken = 0;
    fc.assert(
      fc.property(classicCapture, chunking, limits, most, (capture, chunks, options, max) => {
        const outcome = expectSameDecode(capture, chunks, options, (buf, offset, end, layout) =>
          plainRecordsAt(buf, offset, end, layout, max),
        );
        const { bytes } = capture;
        const le = bytes[0] === 0xd4 || bytes[0] === 0x4d;
        if (bytes.length >= 8 && (le ? bytes.readUInt16LE(6) : bytes.readUInt16BE(6)) === 2) {
          expect(outcome.offers).toBe(0); // version 2.2 swaps lengths: nothing is plain
        }
        taken += outcome.taken;
      }),
      { numRuns: 1500 },
    );
    expect(taken).toBeGreaterThan(1000);
  });

  it("sees the packets, warnings and error of a decode without it, in order, however pcapng is chunked", () => {
    let taken = 0;
    fc.assert(
      fc.property(pcapngCapture, chunking, limits, most, (capture, chunks, options, max) => {
        taken += expectSameDecode(capture, chunks, options, (buf, offset, end, layout) =>
          plainRecordsAt(buf, offset, end, layout, max),
        ).taken;
      }),
      { numRuns: 1500 },
    );
    expect(taken).toBeGreaterThan(1000);
  });

  it("changes nothing on mutated captures: same packets, warnings and error", () => {
    fc.assert(
      fc.property(mutated, chunking, limits, most, (capture, chunks, options, max) => {
        expectSameDecode(capture, chunks, options, (buf, offset, end, layout) =>
          plainRecordsAt(buf, offset, end, layout, max),
        );
      }),
      { numRuns: 1500 },
    );
  });

  it("is offered the records of a section in that section's byte order and interfaces", () => {
    const bytes = Buffer.concat([
      shb(true),
      idb(true, { snaplen: 100 }),
      epb(true, { units: 1n, data: frame(60, 1) }),
      idb(true, { snaplen: 0 }),
      epb(true, { interfaceId: 1, units: 2n, data: frame(200, 2) }),
      shb(false),
      idb(false, { snaplen: 1514 }),
      epb(false, { units: 3n, data: frame(80, 3) }),
    ]);
    const layouts: string[] = [];
    decodeCapture({ bytes, boundaries: null }, [bytes.length], {}, (buf, offset, end, layout) => {
      const taken = plainRecordsAt(buf, offset, end, layout, Number.POSITIVE_INFINITY);
      if (taken.records.length > 0) layouts.push(JSON.stringify(layout));
      return taken;
    });
    const ng = (littleEndian: boolean, interfaceSnaplens: number[]): string =>
      JSON.stringify({
        format: "pcapng",
        littleEndian,
        maxBlockLength: MAX_BLOCK_DEFAULT,
        maxCapturedLength: 0xffffffff,
        interfaceSnaplens,
      });
    expect(layouts).toEqual([ng(true, [100]), ng(true, [100, 262144]), ng(false, [1514])]);
  });
});
