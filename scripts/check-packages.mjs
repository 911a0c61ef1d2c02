#!/usr/bin/env node
// @ts-check
// Checks every published workspace as npm would ship it (build first): publint --strict on its package.json
// and files, and @arethetypeswrong/cli on its tarball, so its types resolve for each way Node and
// TypeScript load it. The node16 profile: the packages need Node >= 20.19 and a resolver that reads
// "exports" (TypeScript's node16, nodenext or bundler); node10's, which ignores subpath exports, is out.
// A package without types (a command-line app) has nothing for attw to check.
//
// usage: node scripts/check-packages.mjs     exit 1 when any package has a problem
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { packAll } from "../packaging/pack.mjs";
import { publishedWorkspaces, repoRoot } from "./workspaces.mjs";

const bin = (/** @type {string} */ name) => join(repoRoot, "node_modules", ".bin", name);
const packages = publishedWorkspaces();
const dir = mkdtempSync(join(tmpdir(), "sluice-check-packages-"));
const failed = [];
try {
  const tarballs = packAll(dir);
  for (const [i, { dir: folder, manifest }] of packages.entries()) {
    const where = relative(repoRoot, folder);
    console.log(`--- ${manifest.name} (${where})`);
    const publint = spawnSync(bin("publint"), ["--strict", folder], { stdio: "inherit" });
    if (publint.status !== 0) failed.push(`${manifest.name}: publint`);
    const tarball = tarballs[i];
    if (tarball === undefined) throw new Error(`npm pack made no tarball for ${manifest.name}`);
    const attw = (/** @type {string[]} */ ...args) =>
      spawnSync(bin("attw"), ["--profile", "node16", "--no-color", ...args, tarball], { stdio: "inherit" });
    // Quiet when all is well; the per-entry-point table only to show what is wrong.
    if (attw("--quiet").status !== 0) {
      attw("--format", "ascii");
      failed.push(`${manifest.name}: @arethetypeswrong/cli`);
    } else console.log("@arethetypeswrong/cli: no problems");
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
if (failed.length > 0) {
  console.error(`package checks failed: ${failed.join(", ")}`);
  process.exitCode = 1;
} else
  console.log(`${packages.length} published packages: publint and @arethetypeswrong/cli found nothing wrong`);
