import { describe, expect, it } from "vitest";
import { LabError } from "./errors.js";
import { parseSize } from "./size.js";

describe("parseSize", () => {
  it("reads decimal sizes with K, M and G, with or without B", () => {
    expect(["500M", "2G", "10K", "64kB", "1234", "1.5M"].map(parseSize)).toEqual([
      500e6, 2e9, 10e3, 64e3, 1234, 1.5e6,
    ]);
  });

  it("refuses anything else with a bad-option LabError", () => {
    for (const text of ["lots", "", "5T", "-1M", "M"]) {
      expect(() => parseSize(text)).toThrow(/not a size/);
      try {
        parseSize(text);
      } catch (error) {
        expect(LabError.isInstance(error) && error.reason).toBe("bad-option");
      }
    }
  });
});
