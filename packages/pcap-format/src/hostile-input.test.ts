import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_CAPTURE_LENGTH, PcapFormatError } from "./index.js";
import { CaptureDecoder, type DecoderSink } from "./low-level.js";
import {
  classicHeader,
  classicRecord,
  customBlock,
  epb,
  idb,
  opb,
  shb,
  spb,
  udpFrame,
} from "./testing/builders.js";

interface Outcome {
  packets: string[];
  /** Warnings as "<warning>@<offset>", in the order they came. */
  warnings: string[];
  error: string | null;
  largest: number;
}

const MAX_BLOCK = 1 << 20;

// Decodes bytes fed in the given chunk sizes (cycled). Anything but a PcapFormatError fails the test.
function decode(bytes: Uint8Array, chunkSizes: number[] = [bytes.length || 1]): Outcome {
  const packets: string[] = [];
  const warnings: string[] = [];
  let pending: string[] = [];
  let interfaces = 0;
  const sink: DecoderSink = {
    packet(buf, dataOffset, caplen, origlen, seconds, nanoseconds, interfaceId, _record, inputOffset) {
      expect(caplen).toBeLessThanOrEqual(Math.max(MAX_CAPTURE_LENGTH, bytes.length));
      expect(dataOffset + caplen).toBeLessThanOrEqual(buf.length);
      expect(nanoseconds >= 0 && nanoseconds < 1e9).toBe(true);
      expect(interfaceId).toBeLessThan(interfaces);
      expect(inputOffset).toBeGreaterThanOrEqual(0);
      // A packet that says more was captured than was sent is read on, but never without its warning.
      if (caplen > origlen) expect(pending).toContain(`caplen-over-origlen@${inputOffset}`);
      for (const warning of pending) expect(warning.endsWith(`@${inputOffset}`)).toBe(true);
      pending = [];
      packets.push(
        `${seconds}.${nanoseconds}/${origlen}/${Buffer.from(buf.subarray(dataOffset, dataOffset + caplen)).toString("base64")}`,
      );
    },
    interface() {
      interfaces++;
    },
    warning(warning, inputOffset) {
      warnings.push(`${warning}@${inputOffset}`);
      pending.push(`${warning}@${inputOffset}`);
    },
  };
  const decoder = new CaptureDecoder(sink);
  let error: string | null = null;
  try {
    let off = 0;
    let i = 0;
    while (off < bytes.length) {
      const size = Math.max(1, chunkSizes[i++ % chunkSizes.length]!);
      decoder.push(bytes.subarray(off, off + size));
      off += size;
    }
    decoder.end();
  } catch (caught) {
    if (!PcapFormatError.isInstance(caught)) throw caught;
    expect(caught.offset).toBeGreaterThanOrEqual(0);
    expect(caught.offset).toBeLessThanOrEqual(Math.max(bytes.length, 0));
    error = `${caught.reason}@${caught.offset}`;
  }
  const counted = Object.values(decoder.warnings).reduce((sum, n) => sum + n, 0);
  expect(counted).toBe(warnings.length);
  return { packets, warnings, error, largest: decoder.largestBufferedRecord };
}

const le = fc.boolean();
const frame = fc.integer({ min: 0, max: 1600 }).map((n) => udpFrame(Math.max(n, 42), n));

const validClassic = fc
  .record({ le, nano: fc.boolean(), frames: fc.array(frame, { maxLength: 12 }) })
  .map(({ le, nano, frames }) =>
    Buffer.concat([
      classicHeader({ le, nano, snaplen: 2000 }),
      ...frames.map((data, i) => classicRecord({ le, seconds: 1700000000 + i, fraction: i * 7, data })),
    ]),
  );

const validPcapng = fc
  .record({ le, frames: fc.array(frame, { maxLength: 12 }), tsresol: fc.constantFrom(6, 9, 0x80 | 20, 3) })
  .map(({ le, frames, tsresol }) =>
    Buffer.concat([
      shb(le),
      idb(le, { tsresol, snaplen: 0 }),
      customBlock(le, Buffer.from("x")),
      ...frames.map((data, i) =>
        i % 5 === 3
          ? spb(le, { data })
          : i % 5 === 4
            ? opb(le, { units: BigInt(i) * 1_000_003n, data })
            : epb(le, { units: 1_700_000_000_000_000n + BigInt(i) * 1_000_003n, data }),
      ),
    ]),
  );

const validCapture = fc.oneof(validClassic, validPcapng);

// Overwrites with the values that break naive parsers: lengths of 0, all ones, just over the limits.
const nasty = fc.constantFrom(
  0,
  1,
  0xffffffff,
  0x7fffffff,
  0x80000000,
  MAX_CAPTURE_LENGTH + 1,
  MAX_BLOCK + 4,
  12,
  13,
);

const mutated = fc
  .record({
    bytes: validCapture,
    edits: fc.array(
      fc.record({
        at: fc.nat(),
        kind: fc.constantFrom("u32le", "u32be", "byte", "cut", "insert"),
        value: fc.oneof(nasty, fc.nat()),
      }),
      { minLength: 1, maxLength: 4 },
    ),
  })
  .map(({ bytes, edits }) => {
    let out = Buffer.from(bytes);
    for (const { at, kind, value } of edits) {
      if (out.length === 0) break;
      const pos = at % out.length;
      if (kind === "cut") out = out.subarray(0, pos);
      else if (kind === "insert")
        out = Buffer.concat([
          out.subarray(0, pos),
          Buffer.alloc(value % 64, value & 0xff),
          out.subarray(pos),
        ]);
      else if (kind === "byte") out[pos] = value & 0xff;
      else if (pos + 4 <= out.length) {
        if (kind === "u32le") out.writeUInt32LE(value >>> 0, pos);
        else out.writeUInt32BE(value >>> 0, pos);
      }
    }
    return out;
  });

const chunking = fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 8 });

describe("hostile input", () => {
  it("decodes any byte sequence to packets or a typed error, never a crash", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        decode(bytes);
      }),
      { numRuns: 3000 },
    );
  });

  it("decodes random bytes behind a valid magic to packets or a typed error", () => {
    const headed = fc
      .tuple(
        fc.constantFrom(classicHeader({}), classicHeader({ le: false, nano: true }), shb(true), shb(false)),
        fc.uint8Array({ maxLength: 2000 }),
      )
      .map(([head, tail]) => Buffer.concat([head, tail]));
    fc.assert(
      fc.property(headed, chunking, (bytes, chunks) => {
        const outcome = decode(bytes, chunks);
        expect(outcome.largest).toBeLessThanOrEqual(MAX_BLOCK);
      }),
      { numRuns: 3000 },
    );
  });

  it("decodes mutated captures to packets or a typed error, the same however they are chunked", () => {
    fc.assert(
      fc.property(mutated, chunking, (bytes, chunks) => {
        const whole = decode(bytes);
        const pieces = decode(bytes, chunks);
        expect(pieces.packets).toEqual(whole.packets);
        expect(pieces.warnings).toEqual(whole.warnings);
        expect(pieces.error).toEqual(whole.error);
        expect(pieces.largest).toBeLessThanOrEqual(MAX_BLOCK);
      }),
      { numRuns: 2000 },
    );
  });

  it("decodes valid captures completely, the same however they are chunked", () => {
    fc.assert(
      fc.property(validCapture, chunking, (bytes, chunks) => {
        const whole = decode(bytes);
        expect(whole.error).toBeNull();
        expect(decode(bytes, chunks)).toEqual({ ...whole, largest: decode(bytes, chunks).largest });
      }),
      { numRuns: 500 },
    );
  });

  it("reads versions 2.0 to 2.3 and 543.0, lengths swapped as libpcap swaps them, as the same packets as 2.4", () => {
    const records = fc.array(fc.record({ data: frame, extra: fc.nat({ max: 3000 }), swap: fc.boolean() }), {
      maxLength: 10,
    });
    const version = fc.constantFrom([2, 0], [2, 1], [2, 2], [2, 3], [543, 0]);
    fc.assert(
      fc.property(le, version, records, chunking, (le, [versionMajor, versionMinor], list, chunks) => {
        const build = (old: boolean): Buffer =>
          Buffer.concat([
            classicHeader({ le, snaplen: 0, ...(old && { versionMajor, versionMinor }) }),
            ...list.map(({ data, extra, swap }, i) =>
              classicRecord({
                le,
                seconds: i,
                fraction: 0,
                data,
                origlen: data.length + extra,
                // 2.3 files were written both ways; the others always swapped.
                swapLengths: old && (versionMinor !== 3 || swap),
              }),
            ),
          ]);
        const current = decode(build(false));
        expect(current.error).toBeNull();
        expect(decode(build(true), chunks)).toMatchObject({
          packets: current.packets,
          warnings: [],
          error: null,
        });
      }),
      { numRuns: 300 },
    );
  });

  it("reads Kuznetsov's 24-byte record headers as the same packets", () => {
    fc.assert(
      fc.property(le, fc.array(frame, { maxLength: 10 }), chunking, (le, frames, chunks) => {
        const build = (kuznetsov: boolean): Buffer =>
          Buffer.concat([
            classicHeader({ le, kuznetsov }),
            ...frames.map((data, i) =>
              classicRecord({
                le,
                seconds: i,
                fraction: i,
                data,
                ...(kuznetsov && { extra: Buffer.alloc(8, i) }),
              }),
            ),
          ]);
        expect(decode(build(true), chunks)).toMatchObject({
          packets: decode(build(false)).packets,
          error: null,
        });
      }),
      { numRuns: 300 },
    );
  });

  it("cuts records over the snaplen to it and counts each once, however the bytes are chunked", () => {
    const snaplen = fc.integer({ min: 1, max: 1600 });
    fc.assert(
      fc.property(le, snaplen, fc.array(frame, { maxLength: 12 }), chunking, (le, snap, frames, chunks) => {
        const bytes = Buffer.concat([
          classicHeader({ le, snaplen: snap }),
          ...frames.map((data, i) => classicRecord({ le, seconds: i, fraction: 0, data })),
        ]);
        const outcome = decode(bytes, chunks);
        expect(outcome.error).toBeNull();
        expect(outcome.packets).toEqual(
          frames.map((data, i) => `${i}.0/${data.length}/${data.subarray(0, snap).toString("base64")}`),
        );
        expect(outcome.warnings.filter((w) => w.startsWith("caplen-over-snaplen"))).toHaveLength(
          frames.filter((data) => data.length > snap).length,
        );
      }),
      { numRuns: 500 },
    );
  });

  it("never buffers more than a record's validated size, even when lengths claim gigabytes", () => {
    const head = Buffer.concat([shb(true), idb(true)]);
    const claim = Buffer.from(epb(true, { units: 1n, data: udpFrame(60) }));
    claim.writeUInt32LE(0xfffffffc, 4);
    expect(decode(Buffer.concat([head, claim]), [3])).toMatchObject({
      error: `block-too-large@${head.length + 4}`,
    });
    // An unknown block may be huge: it is skipped as it streams by, never buffered.
    const unknown = Buffer.alloc(12);
    unknown.writeUInt32LE(0x00000bad, 0);
    unknown.writeUInt32LE(0xfffffffc, 4);
    const outcome = decode(Buffer.concat([head, unknown, Buffer.alloc(3 << 20)]), [65536]);
    expect(outcome.error).toBe(`truncated-record@${head.length}`);
    expect(outcome.largest).toBeLessThan(4096);
    const classic = Buffer.concat([
      classicHeader({ snaplen: 0 }),
      classicRecord({
        seconds: 0,
        fraction: 0,
        data: Buffer.alloc(4),
        caplen: 0xffffff00,
        origlen: 0xffffff00,
      }),
    ]);
    expect(decode(classic, [5]).error).toBe("caplen-over-max@24");
    expect(decode(classic, [5]).largest).toBeLessThan(4096);
    // D-Bus messages may be 128 MiB: a record claiming 100 MiB gets memory only as its bytes arrive.
    const dbus = Buffer.concat([
      classicHeader({ snaplen: 0, linkType: 231 }),
      classicRecord({
        seconds: 0,
        fraction: 0,
        data: Buffer.alloc(3 << 20),
        caplen: 100 << 20,
        origlen: 100 << 20,
      }),
    ]);
    const claimed = decode(dbus, [65536]);
    expect(claimed.error).toBe("truncated-record@24");
    expect(claimed.largest).toBeLessThanOrEqual(2 * (3 << 20) + 64);
  });

  it("terminates on an endless run of minimal blocks", () => {
    const head = shb(true);
    const tiny = Buffer.alloc(12);
    tiny.writeUInt32LE(0x00000005, 0);
    tiny.writeUInt32LE(12, 4);
    tiny.writeUInt32LE(12, 8);
    const bytes = Buffer.concat([head, ...Array.from({ length: 100_000 }, () => tiny)]);
    expect(decode(bytes, [4093])).toEqual({
      packets: [],
      warnings: [],
      error: null,
      largest: expect.any(Number),
    });
  });
});
