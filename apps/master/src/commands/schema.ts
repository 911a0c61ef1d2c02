import { z } from "zod";
import { MasterConfig } from "../config.js";

/** The master config's JSON Schema, generated from the zod schema (what editors validate against). */
export function masterJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(MasterConfig, { io: "input", unrepresentable: "any" }),
    $id: "https://sluice.dev/schema/sluice-master.schema.json",
    title: "sluice-master configuration",
  };
}

/** `sluice-master schema`: prints the config's JSON Schema. */
export function runSchema(): number {
  process.stdout.write(`${JSON.stringify(masterJsonSchema(), null, 2)}\n`);
  return 0;
}
