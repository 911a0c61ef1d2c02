import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { jsonErrorOffset } from "./json-error-offset.js";

describe("jsonErrorOffset", () => {
  it("finds where JSON goes wrong", () => {
    expect(jsonErrorOffset('{"a": [,]}')).toBe(7);
    expect(jsonErrorOffset('{"a": 1,}')).toBe(8);
    expect(jsonErrorOffset('{"a" 1}')).toBe(5);
    expect(jsonErrorOffset('{"a": tru}')).toBe(6);
    expect(jsonErrorOffset('{"a": "x\\q"}')).toBe(9);
    expect(jsonErrorOffset("[1] x")).toBe(4);
    expect(jsonErrorOffset("")).toBe(0);
  });

  it("agrees with JSON.parse on which texts are valid", () => {
    fc.assert(
      fc.property(fc.oneof(fc.json(), fc.string()), (text) => {
        let valid = true;
        try {
          JSON.parse(text);
        } catch {
          valid = false;
        }
        expect(jsonErrorOffset(text) === -1).toBe(valid);
      }),
      { numRuns: 2000 },
    );
  });
});
