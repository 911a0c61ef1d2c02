import { describe, expect, it } from "vitest";
import { gapErrorsUs, median, percentile, spread } from "./pacing.js";

describe("gapErrorsUs", () => {
  it("gives |peer gap − file gap| in µs per pair of consecutive frames, across second boundaries", () => {
    const sent = [
      { seconds: 10, nanoseconds: 999_000_000 },
      { seconds: 11, nanoseconds: 1_000_000 },
      { seconds: 11, nanoseconds: 3_000_000 },
    ];
    const received = [
      { seconds: 500, nanoseconds: 0 },
      { seconds: 500, nanoseconds: 2_010_000 },
      { seconds: 500, nanoseconds: 3_990_000 },
    ];
    // File gaps 2 ms and 2 ms; peer gaps 2.010 ms and 1.980 ms.
    expect(gapErrorsUs(sent, received).map((e) => Math.round(e * 1000) / 1000)).toEqual([10, 20]);
  });
});

describe("percentile", () => {
  it("takes the value at ⌊q·n⌋ of the sorted values", () => {
    const values = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
    expect(percentile(values, 0.5)).toBe(6);
    expect(percentile(values, 0.99)).toBe(10);
    expect(percentile(values, 0)).toBe(1);
    expect(percentile([], 0.5)).toBeNaN();
  });
});

describe("median and spread", () => {
  it("take the middle (the mean of the two middle values for an even count) and lowest–highest, skipping NaN", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2, Number.NaN])).toBe(2.5);
    expect(median([])).toBeNaN();
    expect(spread([2.25, Number.NaN, 1.5, 9], 1)).toBe("1.5–9.0");
    expect(spread([])).toBe("-");
  });
});
