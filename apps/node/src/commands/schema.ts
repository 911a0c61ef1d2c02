import { jsonSchemaOf, schemaCommand } from "@sluice/daemon";
import { NodeConfig } from "../config.js";

/** The node config's JSON Schema, generated from the zod schema (what editors validate against). */
export function nodeJsonSchema(): Record<string, unknown> {
  return jsonSchemaOf(NodeConfig, "sluice-node");
}

/** `sluice-node schema [--markdown]`: the config's JSON Schema, or its reference table. */
export const runSchema = schemaCommand(NodeConfig, "sluice-node");
