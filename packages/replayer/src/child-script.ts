import { existsSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

// The child always runs from dist/ (plain JS), whether this module was loaded from dist/ or, under
// vitest, from src/.
const here = dirname(fileURLToPath(import.meta.url));
const dist = basename(here) === "dist" ? here : join(here, "..", "dist");

/** Path of the built inject child entry point. */
export function injectChildPath(): string {
  const path = join(dist, "inject-child.js");
  if (!existsSync(path)) throw new Error(`${path} is missing: build @sluice/replayer first (npm run build)`);
  return path;
}
