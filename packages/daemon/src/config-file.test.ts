import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ConfigError, jsonPath, loadConfigFile, parseConfig } from "./config-file.js";

const Schema = z.strictObject({
  spool: z.string().default("/tmp/dispatcher"),
  sources: z.array(
    z.discriminatedUnion("type", [
      z.strictObject({ type: z.literal("interface"), name: z.string(), interface: z.string() }),
      z.strictObject({ type: z.literal("folder"), name: z.string(), path: z.string() }),
    ]),
  ),
  pools: z
    .array(z.strictObject({ name: z.string(), nodes: z.array(z.strictObject({ path: z.string() })) }))
    .default([]),
});

function problems(value: unknown): string[] {
  try {
    parseConfig(Schema, value, "master.json");
  } catch (error) {
    if (!ConfigError.isInstance(error)) throw error;
    return error.problems.map((p) => `${p.path}: ${p.message}`);
  }
  return [];
}

function file(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), "sluice-config-")), "config.json");
  writeFileSync(path, text);
  return path;
}

describe("config files", () => {
  it("fills in defaults for a valid config", () => {
    expect(parseConfig(Schema, { sources: [] })).toEqual({
      spool: "/tmp/dispatcher",
      sources: [],
      pools: [],
    });
  });

  it("names every problem with its JSON path", () => {
    expect(
      problems({
        sources: [
          { type: "iface", name: "x" },
          { type: "folder", name: "inbox" },
        ],
        pools: [{ name: "p", nodes: [{ path: 3, speed: 1 }] }],
      }),
    ).toEqual([
      "$.sources[0].type: Invalid discriminator value. Expected 'interface' | 'folder'",
      "$.sources[1].path: missing (expected string)",
      "$.pools[0].nodes[0].path: Invalid input: expected string, received number",
      "$.pools[0].nodes[0].speed: unknown field",
    ]);
  });

  it("writes odd keys in brackets", () => {
    expect(jsonPath(["a", 0, "b c", "d"])).toBe('$.a[0]["b c"].d');
  });

  it("reports bad JSON with its line and column", () => {
    const path = file('{\n  "spool": "/x",\n  "sources": [,]\n}\n');
    const error = (() => {
      try {
        loadConfigFile(Schema, path);
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error("no error");
    })();
    expect(error.reason).toBe("bad-json");
    expect(error.problems[0]).toMatchObject({ line: 3, column: 15 });
    expect(error.message).toContain(`${path}: 1 problem`);
  });

  it("reports a missing file as unreadable", () => {
    expect(() => loadConfigFile(Schema, "/nonexistent/sluice.json")).toThrow(
      expect.objectContaining({ code: "ERR_CONFIG", reason: "unreadable", file: "/nonexistent/sluice.json" }),
    );
  });

  it("loads a valid file", () => {
    const path = file(JSON.stringify({ sources: [{ type: "folder", name: "inbox", path: "/data" }] }));
    expect(loadConfigFile(Schema, path).sources[0]).toEqual({ type: "folder", name: "inbox", path: "/data" });
  });
});
