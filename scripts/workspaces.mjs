// @ts-check
// The npm workspaces of this repository, found from the root package.json's "workspaces" patterns, so the
// pack, install and check scripts pick up a new package without a list to keep.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (this file is in scripts/). */
export const repoRoot = dirname(dirname(fileURLToPath(import.meta.url)));

/**
 * @typedef {{ name: string; version: string; private?: boolean; bin?: Record<string, string> | string;
 *   scripts?: Record<string, string>; dependencies?: Record<string, string>;
 *   devDependencies?: Record<string, string>; optionalDependencies?: Record<string, string>;
 *   peerDependencies?: Record<string, string>; allowScripts?: Record<string, boolean>;
 *   workspaces?: string[]; files?: string[]; man?: string[] | string; description?: string }} Manifest
 * @typedef {{ dir: string; manifest: Manifest }} Workspace
 */

/** @param {string} path @returns {Manifest} */
export function readManifest(path) {
  return JSON.parse(readFileSync(path, "utf8"));
}

/**
 * Every workspace under `root`, in pattern order then name order. Patterns are "dir/*" or a plain folder
 * (all this repository uses); anything else is refused rather than guessed at.
 * @param {string} [root]
 * @returns {Workspace[]}
 */
export function workspaces(root = repoRoot) {
  const patterns = readManifest(join(root, "package.json")).workspaces ?? [];
  return patterns.flatMap((pattern) => {
    if (/[*?[{]/.test(pattern.replace(/\/\*$/, ""))) {
      throw new Error(
        `workspaces pattern "${pattern}" is not "dir/*" or a folder: extend scripts/workspaces.mjs`,
      );
    }
    const dirs = pattern.endsWith("/*")
      ? readdirSync(join(root, pattern.slice(0, -2)), { withFileTypes: true })
          .filter((d) => d.isDirectory())
          .map((d) => join(root, pattern.slice(0, -2), d.name))
          .sort()
      : [join(root, pattern)];
    return dirs
      .filter((dir) => existsSync(join(dir, "package.json")))
      .map((dir) => ({ dir, manifest: readManifest(join(dir, "package.json")) }));
  });
}

/** The workspaces npm would publish: every one not marked private. */
export function publishedWorkspaces(root = repoRoot) {
  return workspaces(root).filter((w) => w.manifest.private !== true);
}

/** The commands a package installs, name → path inside the package (npm's two forms of "bin"). */
export function binsOf(/** @type {Manifest} */ manifest) {
  if (typeof manifest.bin === "string") return { [manifest.name.replace(/^@[^/]+\//, "")]: manifest.bin };
  return manifest.bin ?? {};
}

/**
 * Packages whose install scripts npm must run: the root's allowScripts that published packages depend on
 * (pcap, built by node-gyp) and every
 * published workspace that builds at install (an install script, or a binding.gyp, for which npm runs
 * `node-gyp rebuild`).
 * @returns {string[]}
 */
export function packagesWithInstallScripts(root = repoRoot) {
  // Of the root's list, the ones a published package depends on (not build tools such as esbuild).
  const needed = new Set(
    publishedWorkspaces(root).flatMap(({ manifest }) =>
      Object.keys({ ...manifest.dependencies, ...manifest.optionalDependencies }),
    ),
  );
  const allowed = Object.entries(readManifest(join(root, "package.json")).allowScripts ?? {})
    .filter(([name, allow]) => allow && needed.has(name))
    .map(([name]) => name);
  const building = publishedWorkspaces(root)
    .filter(
      ({ dir, manifest }) =>
        ["preinstall", "install", "postinstall"].some((s) => manifest.scripts?.[s] !== undefined) ||
        existsSync(join(dir, "binding.gyp")),
    )
    .map(({ manifest }) => manifest.name);
  return [...new Set([...allowed, ...building])];
}
