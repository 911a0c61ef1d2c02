import { describe, expect, it } from "vitest";
import { z } from "zod";
import { configReference, referenceRows } from "./config-reference.js";

const Schema = z.strictObject({
  spool: z.string().default("/tmp/dispatcher").describe("Spool root."),
  sources: z.array(
    z.discriminatedUnion("type", [
      z.strictObject({ type: z.literal("interface"), interface: z.string().describe("The port.") }),
      z.strictObject({ type: z.literal("folder"), path: z.string() }),
    ]),
  ),
  pools: z.array(
    z.strictObject({
      name: z.string(),
      strategy: z.enum(["round-robin", "least-backlog"]).default("round-robin"),
    }),
  ),
  quota: z.strictObject({ files: z.number().int().positive() }).optional(),
});

describe("config reference", () => {
  it("lists every field with its type, default and description, union members by their tag", () => {
    const rows = referenceRows(z.toJSONSchema(Schema, { io: "input" }));
    expect(rows.map((r) => [r.path, r.type, r.required, r.default, r.description])).toEqual([
      ["spool", "string", false, '"/tmp/dispatcher"', "Spool root."],
      ["sources", "object[]", true, "", ""],
      [
        "sources[].type",
        '"interface" | "folder"',
        true,
        "",
        "Which kind; the fields below say which kind they belong to.",
      ],
      ["sources[].interface", "string", true, "", '(type "interface") The port.'],
      ["sources[].path", "string", true, "", '(type "folder") '],
      ["pools", "object[]", true, "", ""],
      ["pools[].name", "string", true, "", ""],
      ["pools[].strategy", '"round-robin" | "least-backlog"', false, '"round-robin"', ""],
      ["quota", "object", false, "", ""],
      ["quota.files", "integer (> 0)", true, "", ""],
    ]);
  });

  it("renders a Markdown table with pipes escaped", () => {
    const table = configReference(z.toJSONSchema(Schema, { io: "input" }));
    expect(table).toContain(
      '| `pools[].strategy` | "round-robin" \\| "least-backlog" | `"round-robin"` |  |',
    );
    expect(table.split("\n")[0]).toBe("| Field | Type | Default | What |");
  });
});
