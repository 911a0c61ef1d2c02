import { describe, expect, it } from "vitest";
import { pickNode } from "./strategy.js";

const order = ["a", "b", "c"];
const all = order.map((name) => ({ name, backlog: 0 }));

describe("pickNode", () => {
  it("goes round the nodes in order from the cursor", () => {
    let cursor = 0;
    const picked = [];
    for (let i = 0; i < 7; i++) {
      const choice = pickNode("round-robin", order, cursor, all)!;
      picked.push(choice.node);
      cursor = choice.cursor;
    }
    expect(picked).toEqual(["a", "b", "c", "a", "b", "c", "a"]);
  });

  it("skips nodes that are not candidates", () => {
    const healthy = all.filter((c) => c.name !== "b");
    expect(pickNode("round-robin", order, 1, healthy)).toEqual({ node: "c", cursor: 0 });
  });

  it("takes the smallest backlog, ties in round-robin order", () => {
    const candidates = [
      { name: "a", backlog: 3 },
      { name: "b", backlog: 1 },
      { name: "c", backlog: 1 },
    ];
    expect(pickNode("least-backlog", order, 0, candidates)).toEqual({ node: "b", cursor: 2 });
    expect(pickNode("least-backlog", order, 2, candidates)).toEqual({ node: "c", cursor: 0 });
  });

  it("returns null without candidates", () => {
    expect(pickNode("round-robin", order, 0, [])).toBeNull();
  });
});
