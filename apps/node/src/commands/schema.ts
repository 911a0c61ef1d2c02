import { configReference } from "@sluice/daemon";
import { z } from "zod";
import { NodeConfig } from "../config.js";
import { UsageError } from "../usage.js";

/** The node config's JSON Schema, generated from the zod schema (what editors validate against). */
export function nodeJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(NodeConfig, { io: "input", unrepresentable: "any" }),
    $id: "https://sluice.dev/schema/sluice-node.schema.json",
    title: "sluice-node configuration",
  };
}

/** `sluice-node schema [--markdown]`: the config's JSON Schema, or its reference table. */
export function runSchema(args: string[]): number {
  const unknown = args.find((a) => a !== "--markdown");
  if (unknown !== undefined) throw new UsageError(`schema takes only --markdown, not ${unknown}`);
  const schema = nodeJsonSchema();
  process.stdout.write(
    args.includes("--markdown") ? configReference(schema) : `${JSON.stringify(schema, null, 2)}\n`,
  );
  return 0;
}
