import { describe, expect, it } from "vitest";
import { finalizeHash, mixWord } from "./hash.js";
import { Rendezvous, rendezvousPick } from "./rendezvous.js";

const FLOWS = 60_000;
const flow = (i: number): number => finalizeHash(mixWord(0x1234, i), 4);
const NAMES = ["sensor-a", "sensor-b", "sensor-c", "sensor-d", "sensor-e"];

function owners(rendezvous: Rendezvous): string[] {
  return Array.from({ length: FLOWS }, (_, i) => rendezvous.pickName(flow(i)));
}

describe("Rendezvous", () => {
  it("spreads flows evenly over the nodes", () => {
    const counts = new Map<string, number>();
    for (const name of owners(new Rendezvous(NAMES))) counts.set(name, (counts.get(name) ?? 0) + 1);
    for (const name of NAMES) expect(counts.get(name)).toBeGreaterThan((FLOWS / NAMES.length) * 0.9);
  });

  it("picks the same node whatever the order of the names", () => {
    expect(owners(new Rendezvous([...NAMES].reverse()))).toEqual(owners(new Rendezvous(NAMES)));
  });

  it("moves only the removed node's flows when a node leaves", () => {
    const before = owners(new Rendezvous(NAMES));
    const after = owners(new Rendezvous(NAMES.filter((n) => n !== "sensor-c")));
    let moved = 0;
    for (let i = 0; i < FLOWS; i++) {
      if (before[i] !== after[i]) {
        moved++;
        expect(before[i]).toBe("sensor-c");
      }
    }
    expect(moved / FLOWS).toBeGreaterThan(0.15);
    expect(moved / FLOWS).toBeLessThan(0.25);
  });

  it("takes about 1/N of the flows, only for itself, when a node joins", () => {
    const before = owners(new Rendezvous(NAMES));
    const after = owners(new Rendezvous([...NAMES, "sensor-f"]));
    let moved = 0;
    for (let i = 0; i < FLOWS; i++) {
      if (before[i] !== after[i]) {
        moved++;
        expect(after[i]).toBe("sensor-f");
      }
    }
    expect(moved / FLOWS).toBeGreaterThan((1 / 6) * 0.85);
    expect(moved / FLOWS).toBeLessThan((1 / 6) * 1.15);
  });

  it("refuses an empty or repeated node list", () => {
    expect(() => new Rendezvous([])).toThrow(/at least one node/);
    expect(() => new Rendezvous(["a", "b", "a"])).toThrow(/"a" is listed twice/);
  });

  it("rendezvousPick returns -1 for no seeds and an index otherwise", () => {
    expect(rendezvousPick(123, [])).toBe(-1);
    const r = new Rendezvous(NAMES);
    expect(rendezvousPick(123, r.seeds)).toBe(r.pick(123));
  });
});
