#!/usr/bin/env node
// @ts-check
// Every dependency of a workspace on another workspace must name a version that workspace has: npm looks
// for any other version in the registry, where @sluice/* packages are not (yet), and fails with a 404 that
// names neither file. A branch made before a release (`changeset version`) still says 0.0.0; this says
// which line to change, and --fix changes it.
//
// usage: node scripts/check-workspace-deps.mjs [--fix]
import { readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { repoRoot, workspaces } from "./workspaces.mjs";

const fix = process.argv.includes("--fix");
const all = workspaces();
const versions = new Map(all.map((w) => [w.manifest.name, w.manifest.version]));
const kinds = /** @type {const} */ ([
  "dependencies",
  "devDependencies",
  "optionalDependencies",
  "peerDependencies",
]);
let problems = 0;

for (const { dir, manifest } of all) {
  const file = join(dir, "package.json");
  let text = readFileSync(file, "utf8");
  for (const kind of kinds) {
    for (const [name, range] of Object.entries(manifest[kind] ?? {})) {
      const version = versions.get(name);
      if (version === undefined || satisfies(version, range)) continue;
      if (fix) {
        text = text.replace(`"${name}": "${range}"`, `"${name}": "${version}"`);
        console.log(`${relative(repoRoot, file)}: ${kind}.${name} ${range} -> ${version}`);
      } else {
        problems++;
        console.error(
          `${relative(repoRoot, file)}: ${kind}.${name} is "${range}" but the workspace ${name} is ${version} ` +
            "(node scripts/check-workspace-deps.mjs --fix)",
        );
      }
    }
  }
  if (fix) writeFileSync(file, text);
}
process.exitCode = problems > 0 ? 1 : 0;

/**
 * The range forms workspaces use: an exact version, ^x.y.z, ~x.y.z or *.
 * @param {string} version @param {string} range
 */
function satisfies(version, range) {
  if (range === "*" || range === version) return true;
  const m = /^([~^])(\d+)\.(\d+)\.(\d+)$/.exec(range);
  const v = /^(\d+)\.(\d+)\.(\d+)$/.exec(version);
  if (m === null || v === null) return false;
  const [want, have] = [m.slice(2).map(Number), v.slice(1).map(Number)];
  const [wMajor = 0, wMinor = 0, wPatch = 0] = want;
  const [hMajor = 0, hMinor = 0, hPatch = 0] = have;
  const atLeast =
    hMajor > wMajor || (hMajor === wMajor && (hMinor > wMinor || (hMinor === wMinor && hPatch >= wPatch)));
  if (!atLeast) return false;
  if (m[1] === "~") return hMajor === wMajor && hMinor === wMinor;
  // ^: same major, or for 0.x the same minor, or for 0.0.x the same patch.
  if (wMajor > 0) return hMajor === wMajor;
  if (wMinor > 0) return hMajor === 0 && hMinor === wMinor;
  return hMajor === 0 && hMinor === 0 && hPatch === wPatch;
}
