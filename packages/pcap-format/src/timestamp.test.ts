import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compareTimestamps, formatTimestamp, TimestampScale } from "./timestamp.js";

// The definition, in bigint: units of base^-exponent seconds, nanoseconds truncated.
function reference(units: bigint, base: 10 | 2, exponent: number, offset: bigint): [bigint, bigint] {
  const perSecond = BigInt(base) ** BigInt(exponent);
  return [units / perSecond + offset, ((units % perSecond) * 1_000_000_000n) / perSecond];
}

describe("TimestampScale", () => {
  it("converts any 64-bit unit count exactly for every decimal and binary resolution", () => {
    const resolution = fc.oneof(
      fc.record({ base: fc.constant(10 as const), exponent: fc.integer({ min: 0, max: 19 }) }),
      fc.record({ base: fc.constant(2 as const), exponent: fc.integer({ min: 0, max: 63 }) }),
    );
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        resolution,
        fc.bigInt({ min: -(1n << 40n), max: 1n << 40n }),
        (units, res, offset) => {
          const [seconds, nanos] = reference(units, res.base, res.exponent, offset);
          fc.pre(seconds <= BigInt(Number.MAX_SAFE_INTEGER) && seconds >= -BigInt(Number.MAX_SAFE_INTEGER));
          const scale = new TimestampScale(res, offset);
          scale.convert(Number(units >> 32n), Number(units & 0xffffffffn));
          expect([scale.seconds, scale.nanoseconds]).toEqual([Number(seconds), Number(nanos)]);
        },
      ),
      { numRuns: 20_000 },
    );
  });

  it("converts nanosecond counts of this century exactly (the fast long-division path)", () => {
    const scale = new TimestampScale({ base: 10, exponent: 9 });
    const units = 1_763_812_345_678_901_234n; // 2025-11-22, beyond 2^53
    scale.convert(Number(units >> 32n), Number(units & 0xffffffffn));
    expect(formatTimestamp(scale.seconds, scale.nanoseconds)).toBe("1763812345.678901234");
  });
});

describe("formatTimestamp", () => {
  it("prints seconds and nine digits of nanoseconds", () => {
    expect(formatTimestamp(1700000000, 5)).toBe("1700000000.000000005");
    expect(formatTimestamp(0, 0)).toBe("0.000000000");
  });

  it("prints negative times by value", () => {
    expect(formatTimestamp(-1, 500_000_000)).toBe("-0.500000000");
    expect(formatTimestamp(-2, 0)).toBe("-2.000000000");
  });

  it("orders timestamps by seconds, then nanoseconds", () => {
    expect(compareTimestamps({ seconds: 1, nanoseconds: 9 }, { seconds: 2, nanoseconds: 0 })).toBeLessThan(0);
    expect(compareTimestamps({ seconds: 2, nanoseconds: 9 }, { seconds: 2, nanoseconds: 1 })).toBeGreaterThan(
      0,
    );
  });
});
