import { jsonSchemaOf, schemaCommand } from "@sluice/daemon";
import { MasterConfig } from "../config.js";

/** The master config's JSON Schema, generated from the zod schema (what editors validate against). */
export function masterJsonSchema(): Record<string, unknown> {
  return jsonSchemaOf(MasterConfig, "sluice-master");
}

/** `sluice-master schema [--markdown]`: the config's JSON Schema, or its reference table. */
export const runSchema = schemaCommand(MasterConfig, "sluice-master");
