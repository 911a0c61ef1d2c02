// RecordScanner as a decoder's bulk sink: what it takes plus what the decoder reads itself must be exactly
// what the decoder reads alone (pcap-format's PlainRecords rule), and on hostile bytes it must agree with
// that rule written out in TypeScript, never reading outside its range.

import { PcapFormatError } from "@sluice/pcap-format";
import {
  CaptureDecoder,
  type CaptureDecoderOptions,
  type DecoderSink,
  type PlainRecords,
} from "@sluice/pcap-format/low-level";
import { testSeed } from "@sluice/testlab";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadAddon } from "./binding.js";
import { RecordScanner } from "./scan.js";

const addon = loadAddon().addon;
if (addon === null) console.warn(`skipping scanRecords tests: ${loadAddon().reason}`);

// The shared setup file seeds fast-check with the run's seed; it is named here too, once per run.
const seed = testSeed();

interface Limits {
  frameLimit: number;
  taggedFrameLimit: number;
  first: number;
  capacity: number;
}

interface Taken {
  next: number;
  records: Array<readonly [number, number]>;
}

const SENTINEL = 0xdeadbeef;

/** pcap-format's PlainRecords rule as its TSDoc states it, with RecordScanner's frame limits and room. */
function plainRecordsAt(
  buf: Uint8Array,
  offset: number,
  end: number,
  layout: PlainRecords,
  limits: Limits,
): Taken {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const at = (o: number): number => view.getUint32(o, layout.littleEndian);
  const records: Array<readonly [number, number]> = [];
  const room = limits.capacity - limits.first;
  const overLimit = (data: number, captured: number): boolean => {
    const tagged = captured >= 14 && buf[data + 12] === 0x81 && buf[data + 13] === 0x00;
    return captured > (tagged ? limits.taggedFrameLimit : limits.frameLimit);
  };
  let off = offset;
  if (layout.format === "pcap") {
    while (records.length < room && end - off >= 16) {
      const captured = at(off + 8);
      if (captured > layout.maxCapturedLength || captured > at(off + 12)) break;
      if (at(off + 4) >= layout.fractionLimit || off + 16 + captured > end) break;
      if (overLimit(off + 16, captured)) break;
      records.push([off + 16, captured]);
      off += 16 + captured;
    }
  } else {
    while (records.length < room && end - off >= 32) {
      const length = at(off + 4);
      if (at(off) !== 6 || length % 4 !== 0 || length < 32 || length > layout.maxBlockLength) break;
      if (off + length > end || at(off + length - 4) !== length) break;
      const iface = at(off + 8);
      const captured = at(off + 20);
      if (28 + captured + ((4 - (captured % 4)) % 4) > length - 4 || captured > at(off + 24)) break;
      if (captured > layout.maxCapturedLength || iface >= layout.interfaceSnaplens.length) break;
      if (captured > layout.interfaceSnaplens[iface]! || overLimit(off + 28, captured)) break;
      records.push([off + 28, captured]);
      off += length;
    }
  }
  return { next: off, records };
}

/** Scans with the addon, checking it wrote `count` pairs from `first` on and nothing else. */
function nativeScan(
  scanner: RecordScanner,
  buf: Uint8Array,
  offset: number,
  end: number,
  layout: PlainRecords,
  limits: Limits,
): Taken {
  const positions = new Uint32Array(2 * limits.capacity + 6).fill(SENTINEL);
  const { frameLimit, taggedFrameLimit, first, capacity } = limits;
  const next = scanner.scan(
    buf,
    offset,
    end,
    layout,
    frameLimit,
    taggedFrameLimit,
    positions,
    first,
    capacity,
  );
  const count = scanner.count;
  expect(first + count).toBeLessThanOrEqual(capacity);
  const records: Array<readonly [number, number]> = [];
  for (let i = 0; i < count; i++)
    records.push([positions[2 * (first + i)]!, positions[2 * (first + i) + 1]!]);
  positions.fill(SENTINEL, 2 * first, 2 * (first + count));
  expect(positions.every((value) => value === SENTINEL)).toBe(true);
  return { next, records };
}

interface Outcome {
  packets: string[];
  warnings: string[];
  counts: string;
  error: string | null;
  taken: number;
}

/** Decodes `bytes` in chunks of `chunkSizes` (cycled) with `hook` as the sink's bulk path, when given. */
function decode(
  bytes: Buffer,
  chunkSizes: readonly number[],
  options: CaptureDecoderOptions,
  hook?: (buf: Uint8Array, offset: number, end: number, layout: PlainRecords) => Taken,
): Outcome {
  const starts = new Map<Uint8Array, number>();
  let decoder: CaptureDecoder | null = null;
  // A buffer that is not a pushed chunk is the decoder's own, which starts where its reading stands.
  const absolute = (buf: Uint8Array, offset: number): number => (starts.get(buf) ?? decoder!.offset) + offset;
  const packets: string[] = [];
  const warnings: string[] = [];
  let taken = 0;
  let stop: { buf: Uint8Array; at: number } | null = null;
  const record = (buf: Uint8Array, dataOffset: number, length: number): void => {
    const at = absolute(buf, dataOffset);
    expect(
      Buffer.compare(buf.subarray(dataOffset, dataOffset + length), bytes.subarray(at, at + length)),
    ).toBe(0);
    packets.push(`${at}+${length}`);
  };
  const sink: DecoderSink = {
    packet(buf, dataOffset, length) {
      record(buf, dataOffset, length);
    },
    warning(warning, inputOffset) {
      warnings.push(`${warning}@${inputOffset}`);
    },
  };
  if (hook) {
    sink.records = (buf, offset, end, layout) => {
      // The decoder reads the record where the scan stopped before it offers the next boundary.
      if (stop !== null && stop.buf === buf) expect(offset).toBeGreaterThan(stop.at);
      stop = null;
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
  return { packets, warnings, counts: JSON.stringify(decoder.warnings), error, taken };
}

// Minimal builders: pcap-format's are its own test helpers, not exported.
function u32(value: number, le: boolean): Buffer {
  const b = Buffer.alloc(4);
  if (le) b.writeUInt32LE(value >>> 0);
  else b.writeUInt32BE(value >>> 0);
  return b;
}

const pad = (n: number): Buffer => Buffer.alloc((4 - (n % 4)) % 4);

function block(type: number, body: Buffer, le: boolean, trailer = 12 + body.length): Buffer {
  return Buffer.concat([u32(type, le), u32(12 + body.length, le), body, u32(trailer, le)]);
}

function classicHeader(le: boolean, nano: boolean, snaplen: number): Buffer {
  const h = Buffer.alloc(24);
  h.set(u32(nano ? 0xa1b23c4d : 0xa1b2c3d4, le), 0);
  h.set(u32(le ? 0x40002 : 0x20004, le), 4); // version 2.4
  h.set(u32(snaplen, le), 16);
  h.set(u32(1, le), 20);
  return h;
}

function classicRecord(le: boolean, fraction: number, data: Buffer, caplen: number, origlen: number): Buffer {
  return Buffer.concat([u32(1_700_000_000, le), u32(fraction, le), u32(caplen, le), u32(origlen, le), data]);
}

function shb(le: boolean): Buffer {
  return block(
    0x0a0d0d0a,
    Buffer.concat([u32(0x1a2b3c4d, le), u32(le ? 1 : 0x10000, le), Buffer.alloc(8, 0xff)]),
    le,
  );
}

function idb(le: boolean, snaplen: number): Buffer {
  return block(1, Buffer.concat([u32(le ? 1 : 0x10000, le), u32(snaplen, le)]), le);
}

function epb(le: boolean, iface: number, data: Buffer, origlen = data.length, caplen = data.length): Buffer {
  const head = Buffer.concat([
    u32(iface, le),
    u32(0x5f5e1, le),
    u32(7, le),
    u32(caplen, le),
    u32(origlen, le),
  ]);
  return block(6, Buffer.concat([head, data, pad(data.length)]), le);
}

/** A frame of `length` bytes, 802.1Q-tagged (TPID 0x8100 at 12-13) when `tagged` and long enough. */
function frame(length: number, seed: number, tagged: boolean): Buffer {
  const data = Buffer.from(Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff));
  if (length >= 14) data.set(tagged ? [0x81, 0x00] : [0x08, 0x00], 12);
  return data;
}

const frameArb = fc.record({ length: fc.nat({ max: 200 }), tagged: fc.boolean() });

const classicKind = fc.constantFrom(
  "plain",
  "plain",
  "plain",
  "plain",
  "plain",
  "origlen",
  "fraction",
  "snaplen",
);

const classicCapture = fc
  .record({
    le: fc.boolean(),
    nano: fc.boolean(),
    snaplen: fc.constantFrom(0, 100, 65535),
    records: fc.array(fc.record({ kind: classicKind, frame: frameArb }), { maxLength: 20 }),
    cut: fc.constantFrom(0, 0, 0, 1, 7, 20),
  })
  .map(({ le, nano, snaplen, records, cut }) => {
    const parts = [classicHeader(le, nano, snaplen)];
    records.forEach(({ kind, frame: { length, tagged } }, i) => {
      const data = frame(kind === "snaplen" && snaplen === 100 ? 150 : length, i, tagged);
      const fraction = kind === "fraction" ? (nano ? 1e9 : 1e6) + i : i;
      parts.push(classicRecord(le, fraction, data, data.length, data.length + (kind === "origlen" ? -1 : 4)));
    });
    const bytes = Buffer.concat(parts);
    return bytes.subarray(0, bytes.length - cut);
  });

const ngKind = fc.constantFrom(
  "epb",
  "epb",
  "epb",
  "epb",
  "epb",
  "idb",
  "skip",
  "origlen",
  "snaplen",
  "iface",
);

const pcapngCapture = fc
  .record({
    sections: fc.array(
      fc.record({
        le: fc.boolean(),
        snaplens: fc.array(fc.constantFrom(0, 100, 1514), { minLength: 1, maxLength: 3 }),
        blocks: fc.array(fc.record({ kind: ngKind, iface: fc.nat(3), frame: frameArb }), { maxLength: 14 }),
      }),
      { minLength: 1, maxLength: 3 },
    ),
    cut: fc.constantFrom(0, 0, 0, 1, 7, 20),
  })
  .map(({ sections, cut }) => {
    const parts: Buffer[] = [];
    let n = 0;
    for (const { le, snaplens, blocks } of sections) {
      parts.push(shb(le), ...snaplens.map((s) => idb(le, s)));
      const known = [...snaplens];
      for (const { kind, iface, frame: f } of blocks) {
        const id = iface % known.length;
        const snap = known[id] === 0 ? 262144 : known[id]!;
        const data = frame(
          kind === "snaplen" && snap < 200 ? snap + 1 : Math.min(f.length, snap),
          n++,
          f.tagged,
        );
        if (kind === "idb") known.push(100);
        parts.push(
          kind === "idb"
            ? idb(le, 100)
            : kind === "skip"
              ? block(5, frame(4 * iface + 8, n, false), le)
              : kind === "origlen"
                ? epb(le, id, data, Math.max(0, data.length - 1))
                : epb(le, kind === "iface" ? known.length + iface : id, data),
        );
      }
    }
    const bytes = Buffer.concat(parts);
    return bytes.subarray(0, bytes.length - cut);
  });

const mutated = fc
  .record({
    bytes: fc.oneof(classicCapture, pcapngCapture),
    edits: fc.array(
      fc.record({
        at: fc.nat(),
        le: fc.boolean(),
        value: fc.oneof(fc.constantFrom(0, 6, 12, 28, 31, 32, 0xfffffffc, 0xffffffff, 0x80000000), fc.nat()),
      }),
      { minLength: 1, maxLength: 4 },
    ),
  })
  .map(({ bytes, edits }) => {
    const out = Buffer.from(bytes);
    for (const { at, le, value } of edits) {
      if (out.length < 4) break;
      const pos = at % (out.length - 3);
      if (le) out.writeUInt32LE(value >>> 0, pos);
      else out.writeUInt32BE(value >>> 0, pos);
    }
    return out;
  });

const chunking = fc.oneof(
  fc.array(fc.integer({ min: 1, max: 600 }), { minLength: 1, maxLength: 8 }),
  fc.constant([1]),
  fc.constant([1 << 30]),
);

const limitsArb: fc.Arbitrary<Limits> = fc
  .record({
    frameLimit: fc.constantFrom(60, 100, 1514, 0xffffffff),
    tag: fc.constantFrom(0, 4),
    first: fc.nat(3),
    room: fc.constantFrom(0, 1, 3, 64),
  })
  .map(({ frameLimit, tag, first, room }) => ({
    frameLimit,
    taggedFrameLimit: frameLimit === 0xffffffff ? frameLimit : frameLimit + tag,
    first,
    capacity: first + room,
  }));

const options: fc.Arbitrary<CaptureDecoderOptions> = fc.constantFrom(
  {},
  { maxCaptureLength: 120 },
  { maxBlockLength: 160 },
);

describe.skipIf(addon === null)("RecordScanner", () => {
  const scanner = new RecordScanner(addon!);
  const native =
    (limits: Limits) =>
    (buf: Uint8Array, offset: number, end: number, layout: PlainRecords): Taken => {
      const taken = nativeScan(scanner, buf, offset, end, layout, limits);
      expect(taken).toEqual(plainRecordsAt(buf, offset, end, layout, limits));
      return taken;
    };

  it("as a decoder's bulk sink leaves the packets, warnings and error of a decode without it unchanged", () => {
    let taken = 0;
    fc.assert(
      fc.property(
        fc.oneof(classicCapture, pcapngCapture),
        chunking,
        options,
        limitsArb,
        (bytes, chunks, opts, limits) => {
          const alone = decode(bytes, [bytes.length || 1], opts);
          const bulk = decode(bytes, chunks, opts, native(limits));
          expect(bulk).toEqual({ ...alone, taken: bulk.taken });
          taken += bulk.taken;
        },
      ),
      { numRuns: 2000 },
    );
    expect(taken).toBeGreaterThan(500);
  });

  it("leaves the decode of mutated captures unchanged", () => {
    fc.assert(
      fc.property(mutated, chunking, options, limitsArb, (bytes, chunks, opts, limits) => {
        const alone = decode(bytes, [bytes.length || 1], opts);
        expect(decode(bytes, chunks, opts, native(limits))).toEqual({ ...alone, taken: expect.any(Number) });
      }),
      { numRuns: 2000 },
    );
  });

  it("agrees with the rule on random bytes and hostile lengths, reading nothing past the end of its buffer", () => {
    // The bytes end where a 2 MiB huge buffer's mapping ends, so a read past them is a fault, not a guess.
    const arena = addon!.hugeBuffer(2 << 20);
    const word = fc.oneof(
      fc.constantFrom(
        0,
        6,
        12,
        16,
        28,
        31,
        32,
        36,
        0x7fffffff,
        0x80000000,
        0xfffffff0,
        0xfffffffc,
        0xffffffff,
      ),
      fc.nat({ max: 0xffffffff }),
    );
    const small = fc.nat({ max: 90 });
    const field = fc.oneof(small, word);
    // Mostly the value that fits (null), sometimes a hostile one.
    const hostile = (arb: fc.Arbitrary<number>): fc.Arbitrary<number | null> =>
      fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: arb });
    // Mostly no limit, sometimes a small or hostile one.
    const limit = fc.oneof({ weight: 2, arbitrary: fc.constant(0xffffffff) }, small, word);
    // Records shaped like plain ones with any field hostile (null: the value that fits), among raw bytes.
    const piece = fc.oneof(
      {
        weight: 1,
        arbitrary: fc.record({ kind: fc.constant("raw" as const), bytes: fc.uint8Array({ maxLength: 40 }) }),
      },
      {
        weight: 5,
        arbitrary: fc.record({
          kind: fc.constant("record" as const),
          type: fc.constantFrom(6, 6, 6, 2, 3),
          iface: fc.oneof(fc.nat(5), word),
          captured: hostile(field),
          original: hostile(field),
          fraction: fc.oneof({ weight: 4, arbitrary: small }, { weight: 1, arbitrary: word }),
          data: small,
          tagged: fc.boolean(),
          extra: fc.nat(3),
          length: hostile(word),
          trailer: hostile(word),
        }),
      },
    );
    const input = fc
      .record({ le: fc.boolean(), ng: fc.boolean(), pieces: fc.array(piece, { maxLength: 8 }) })
      .map(({ le, ng, pieces }) => {
        const parts = pieces.map((p): Buffer => {
          if (p.kind === "raw") return Buffer.from(p.bytes);
          const data = frame(p.data, p.data, p.tagged);
          const captured = u32(p.captured ?? data.length, le);
          const original = u32(p.original ?? data.length, le);
          if (!ng) return Buffer.concat([u32(7, le), u32(p.fraction, le), captured, original, data]);
          const body = Buffer.concat([
            u32(p.iface, le),
            u32(0, le),
            u32(p.fraction, le),
            captured,
            original,
            data,
            pad(data.length),
            Buffer.alloc(4 * p.extra),
          ]);
          const length = p.length ?? 12 + body.length;
          return Buffer.concat([u32(p.type, le), u32(length, le), body, u32(p.trailer ?? length, le)]);
        });
        return { le, ng, bytes: Buffer.concat(parts) };
      });
    const layout = (le: boolean, ng: boolean): fc.Arbitrary<PlainRecords> =>
      ng
        ? fc.record({
            format: fc.constant("pcapng" as const),
            littleEndian: fc.constant(le),
            maxBlockLength: fc.oneof(limit, fc.constant(16 << 20)),
            maxCapturedLength: limit,
            interfaceSnaplens: fc.array(limit, { maxLength: 5 }),
          })
        : fc.record({
            format: fc.constant("pcap" as const),
            littleEndian: fc.constant(le),
            maxCapturedLength: limit,
            fractionLimit: fc.oneof(word, fc.constantFrom(1e6, 1e9)),
          });
    const wideLimits = fc.record({
      frameLimit: limit,
      taggedFrameLimit: limit,
      first: fc.nat(4),
      room: fc.nat(40),
    });
    const cases = input.chain(({ le, ng, bytes }) =>
      fc.record({
        bytes: fc.constant(bytes),
        layout: layout(le, ng),
        limits: wideLimits,
        skip: fc.oneof(fc.constant(0), fc.nat()),
      }),
    );
    let taken = 0;
    fc.assert(
      fc.property(cases, ({ bytes, layout: plain, limits: wide, skip }) => {
        const buf = arena.subarray(arena.length - bytes.length);
        buf.set(bytes);
        const offset = bytes.length === 0 ? 0 : skip % (bytes.length + 1);
        const limits = { ...wide, capacity: wide.first + wide.room };
        const native = nativeScan(scanner, buf, offset, buf.length, plain, limits);
        expect(native).toEqual(plainRecordsAt(buf, offset, buf.length, plain, limits));
        taken += native.records.length;
      }),
      { numRuns: 20_000 },
    );
    expect(taken).toBeGreaterThan(1000);
  });

  describe("limits", () => {
    const le = true;
    const header = classicHeader(le, false, 0);
    const capture = (...frames: Buffer[]): Buffer =>
      Buffer.concat([header, ...frames.map((f) => classicRecord(le, 0, f, f.length, f.length))]);
    const layout: PlainRecords = {
      format: "pcap",
      littleEndian: le,
      maxCapturedLength: 262144,
      fractionLimit: 1e6,
    };
    const scan = (bytes: Buffer, offset: number, frameLimit: number, tagged: number): [number, number] => {
      const positions = new Uint32Array(32);
      const next = scanner.scan(bytes, offset, bytes.length, layout, frameLimit, tagged, positions, 0, 16);
      return [next, scanner.count];
    };

    it("stops at a frame over the frame limit and takes the records after it from there", () => {
      const bytes = capture(frame(60, 1, false), frame(1515, 2, false), frame(1514, 3, false));
      expect(scan(bytes, 24, 1514, 1518)).toEqual([24 + 16 + 60, 1]);
      const third = 24 + 16 + 60 + 16 + 1515;
      expect(scan(bytes, third, 1514, 1518)).toEqual([bytes.length, 1]);
    });

    it("takes an 802.1Q-tagged frame up to the tagged limit, and no untagged one over the frame limit", () => {
      const tagged = capture(frame(1518, 1, true));
      expect(scan(tagged, 24, 1514, 1518)).toEqual([tagged.length, 1]);
      expect(scan(capture(frame(1519, 1, true)), 24, 1514, 1518)).toEqual([24, 0]);
      expect(scan(capture(frame(1518, 1, false)), 24, 1514, 1518)).toEqual([24, 0]);
      // The TPID at bytes 12-13 counts only in a frame that has them.
      const short = capture(Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x81]));
      expect(scan(short, 24, 12, 100)).toEqual([24, 0]);
    });

    it("writes from record `first` up to `capacity` and no further, and counts what it wrote", () => {
      const frames = Array.from({ length: 10 }, (_, i) => frame(40 + i, i, false));
      const bytes = capture(...frames);
      const positions = new Uint32Array(20).fill(SENTINEL);
      const next = scanner.scan(bytes, 24, bytes.length, layout, 1514, 1518, positions, 3, 6);
      expect(scanner.count).toBe(3);
      expect(next).toBe(24 + 3 * 16 + 40 + 41 + 42);
      expect(Array.from(positions)).toEqual([
        ...Array<number>(6).fill(SENTINEL),
        24 + 16,
        40,
        24 + 16 + 40 + 16,
        41,
        24 + 2 * 16 + 40 + 41 + 16,
        42,
        ...Array<number>(8).fill(SENTINEL),
      ]);
      expect(scanner.scan(bytes, 24, bytes.length, layout, 1514, 1518, positions, 6, 6)).toBe(24);
      expect(scanner.count).toBe(0);
    });
  });

  describe("bad arguments", () => {
    const bytes = Buffer.concat([shb(true), idb(true, 0), epb(true, 0, frame(60, 0, false))]);
    const ng: PlainRecords = {
      format: "pcapng",
      littleEndian: true,
      maxBlockLength: 1 << 24,
      maxCapturedLength: 0xffffffff,
      interfaceSnaplens: [262144],
    };
    const reasonOf = (call: () => unknown): unknown => {
      try {
        call();
      } catch (error) {
        expect(error).toBeInstanceOf(Error);
        return (error as { reason?: unknown }).reason;
      }
      return "no error";
    };
    // scanRecords' args as RecordScanner fills them (src/scan.ts ARG), for calls it would never make.
    const args = (interfaceCount: number, length = 12 + interfaceCount): Uint32Array => {
      const a = new Uint32Array(length);
      a.set([1, 1, 0, bytes.length, 0, 4, 0, 1514, 1518, 0xffffffff, 1 << 24].slice(0, length));
      if (length > 11) a[11] = interfaceCount;
      return a;
    };

    it("throws bad-option for arrays of the wrong type", () => {
      const positions = new Uint32Array(8);
      expect(reasonOf(() => addon!.scanRecords(bytes, positions, args(1)))).toBe("no error");
      expect(reasonOf(() => addon!.scanRecords(new Uint16Array(8) as never, positions, args(1)))).toBe(
        "bad-option",
      );
      expect(reasonOf(() => addon!.scanRecords(new Uint8ClampedArray(8) as never, positions, args(1)))).toBe(
        "bad-option",
      );
      expect(reasonOf(() => addon!.scanRecords(bytes, new Int32Array(8) as never, args(1)))).toBe(
        "bad-option",
      );
      expect(reasonOf(() => addon!.scanRecords(bytes, positions, new Float64Array(13) as never))).toBe(
        "bad-option",
      );
      expect(reasonOf(() => addon!.scanRecords(bytes, positions, [1, 1, 0] as never))).toBe("bad-option");
      expect(reasonOf(() => (addon!.scanRecords as (...a: unknown[]) => void)(bytes, positions))).toBe(
        "bad-option",
      );
    });

    it("throws bad-option when args is too short for its fields or its interface count", () => {
      const positions = new Uint32Array(8);
      expect(reasonOf(() => addon!.scanRecords(bytes, positions, args(0, 11)))).toBe("bad-option");
      expect(reasonOf(() => addon!.scanRecords(bytes, positions, args(3, 14)))).toBe("bad-option");
      expect(reasonOf(() => addon!.scanRecords(bytes, positions, args(0x7fffffff, 12)))).toBe("bad-option");
      expect(reasonOf(() => addon!.scanRecords(bytes, positions, args(3, 15)))).toBe("no error");
    });

    it("throws bad-option for an end beyond the buffer, an offset beyond the end, or room beyond positions", () => {
      const positions = new Uint32Array(8);
      const call = (offset: number, end: number, first: number, capacity: number): unknown =>
        reasonOf(() => scanner.scan(bytes, offset, end, ng, 1514, 1518, positions, first, capacity));
      expect(call(bytes.length - 92, bytes.length, 0, 4)).toBe("no error");
      expect(scanner.count).toBe(1);
      expect(call(0, bytes.length + 1, 0, 4)).toBe("bad-option");
      expect(call(10, 9, 0, 4)).toBe("bad-option");
      expect(call(0, bytes.length, 0, 5)).toBe("bad-option");
      expect(call(0, bytes.length, 5, 4)).toBe("bad-option");
      // A view's bounds are its own, not its ArrayBuffer's.
      const view = new Uint8Array(bytes.buffer, bytes.byteOffset, 40);
      expect(reasonOf(() => scanner.scan(view, 0, 41, ng, 1514, 1518, positions, 0, 4))).toBe("bad-option");
    });
  });
});

if (addon !== null) console.info(`scanRecords tests: fast-check seed ${seed} (SLUICE_SEED repeats it)`);
