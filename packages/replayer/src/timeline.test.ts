import { describe, expect, it } from "vitest";
import { Timeline } from "./timeline.js";

describe("Timeline", () => {
  it("follows the captured gaps divided by the multiplier, capping each at maxGapMs", () => {
    const t = new Timeline({ kind: "original", multiplier: 2 }, 1000);
    expect(t.next(100, 0, 60)).toBe(0);
    expect(t.next(100, 500_000_000, 60)).toBe(250e6); // 500 ms at 2x
    expect(t.next(110, 0, 60)).toBe(250e6 + 500e6); // 9.5 s capped at 1 s, at 2x
    expect(t.next(109, 0, 60)).toBe(750e6); // backwards counts as no gap
  });

  it("spaces records evenly by packet rate and by bit rate", () => {
    const pps = new Timeline({ kind: "pps", pps: 1000 }, 5000);
    expect([pps.next(0, 0, 100), pps.next(0, 0, 100), pps.next(9, 0, 100)]).toEqual([0, 1e6, 2e6]);
    const mbps = new Timeline({ kind: "mbps", mbps: 8 }, 5000);
    // 1000 bytes at 8 Mbit/s take 1 ms.
    expect([mbps.next(0, 0, 1000), mbps.next(0, 0, 500), mbps.next(0, 0, 0)]).toEqual([0, 1e6, 1.5e6]);
  });

  it("gives topspeed records no send time, and starts over after reset", () => {
    expect(Number.isNaN(new Timeline({ kind: "topspeed" }, 5000).next(1, 0, 60))).toBe(true);
    const t = new Timeline({ kind: "original", multiplier: 1 }, 5000);
    t.next(1, 0, 60);
    t.next(2, 0, 60);
    t.reset();
    expect(t.next(50, 0, 60)).toBe(0);
  });
});
