import { existsSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { LabError } from "./errors.js";

// The traffic programs run as separate node processes inside a namespace, always from dist/ (plain JS),
// whether this module was loaded from dist/ or, under vitest, from src/.
const here = dirname(fileURLToPath(import.meta.url));
const dist = basename(here) === "dist" ? here : join(here, "..", "dist");

/** The lab's traffic programs, each a tsup entry. */
export type ScriptName = "http-server" | "http-load" | "udp-blast" | "udp-sink";

/**
 * Path of a built traffic program.
 * Resolved from this module's own location so it works from dist/ and from src/ under vitest alike.
 */
export function scriptPath(name: ScriptName): string {
  const path = join(dist, `${name}.js`);
  if (!existsSync(path)) {
    throw new LabError("unavailable", `${path} is missing: build @sluice/testlab first (npm run build)`);
  }
  return path;
}
