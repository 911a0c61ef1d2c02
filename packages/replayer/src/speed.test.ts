import { describe, expect, it } from "vitest";
import { formatSpeed, parseSpeed, ReplayError } from "./index.js";

describe("parseSpeed", () => {
  it.each([
    ["original", { kind: "original", multiplier: 1 }],
    ["topspeed", { kind: "topspeed" }],
    ["2x", { kind: "original", multiplier: 2 }],
    ["0.5x", { kind: "original", multiplier: 0.5 }],
    ["1000pps", { kind: "pps", pps: 1000 }],
    ["100mbps", { kind: "mbps", mbps: 100 }],
    [{ pps: 250 }, { kind: "pps", pps: 250 }],
    [{ mbps: 2.5 }, { kind: "mbps", mbps: 2.5 }],
  ])("reads %j", (input, expected) => {
    expect(parseSpeed(input)).toEqual(expected);
  });

  it.each([["fast"], ["0x"], ["-2x"], [{ pps: 0 }], [{ mbps: "a lot" }], [{ pps: 1, mbps: 1 }], [null], [3]])(
    "rejects %j with bad-option naming the value",
    (input) => {
      let error: unknown;
      try {
        parseSpeed(input);
      } catch (e) {
        error = e;
      }
      expect(ReplayError.isInstance(error)).toBe(true);
      expect((error as ReplayError).reason).toBe("bad-option");
      expect((error as ReplayError).detail).toMatchObject({ option: "speed", value: input });
    },
  );

  it("formats every speed so parseSpeed reads it back", () => {
    for (const text of ["original", "topspeed", "2x", "0.25x", "5000pps", "40mbps"]) {
      expect(formatSpeed(parseSpeed(text))).toBe(text);
    }
  });
});
