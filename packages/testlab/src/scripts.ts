import { existsSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

// The traffic programs run as separate node processes inside a namespace, always from dist/ (plain JS),
// whether this module was loaded from dist/ or, under vitest, from src/.
const here = dirname(fileURLToPath(import.meta.url));
const dist = basename(here) === "dist" ? here : join(here, "..", "dist");

/** Path of a built traffic program (http-server, http-load, udp-blast). */
export function scriptPath(name: "http-server" | "http-load" | "udp-blast"): string {
  const path = join(dist, `${name}.js`);
  if (!existsSync(path)) throw new Error(`${path} is missing: build @sluice/testlab first (npm run build)`);
  return path;
}
