#!/usr/bin/env node
// @ts-check
// Checks every published workspace as npm would ship it (build first): publint --strict on its package.json
// and files, and @arethetypeswrong/cli on its tarball, so its types resolve for each way Node and
// TypeScript load it. The node16 profile: the packages need Node >= 20.19 and a resolver that reads
// "exports" (TypeScript's node16, nodenext or bundler); node10's, which ignores subpath exports, is out.
// A package without types (a command-line app) has nothing for attw to check. Packages are checked a few
// at a time; each one's output is printed whole when it is done.
//
// usage: node scripts/check-packages.mjs     exit 1 when any package has a problem
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join, relative } from "node:path";
import { packAll } from "../packaging/pack.mjs";
import { publishedWorkspaces, repoRoot } from "./workspaces.mjs";

const bin = (/** @type {string} */ name) => join(repoRoot, "node_modules", ".bin", name);

/**
 * Runs a command; resolves with its exit status and what it printed (stdout and stderr together).
 * @param {string} command @param {string[]} args
 * @returns {Promise<{ status: number; output: string }>}
 */
function run(command, args) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => {
      output += d;
    });
    child.stderr.on("data", (d) => {
      output += d;
    });
    child.on("close", (code) => resolve({ status: code ?? 1, output }));
  });
}

/**
 * publint and attw on one package; returns its report and what failed.
 * @param {import("./workspaces.mjs").Workspace} workspace @param {string} tarball
 */
async function check({ dir, manifest }, tarball) {
  const failed = [];
  let report = `--- ${manifest.name} (${relative(repoRoot, dir)})\n`;
  const publint = await run(bin("publint"), ["--strict", dir]);
  report += publint.output;
  if (publint.status !== 0) failed.push(`${manifest.name}: publint`);
  const attw = (/** @type {string[]} */ ...args) =>
    run(bin("attw"), ["--profile", "node16", "--no-color", ...args, tarball]);
  // Quiet when all is well; the per-entry-point table only to show what is wrong.
  if ((await attw("--quiet")).status === 0) report += "@arethetypeswrong/cli: no problems\n";
  else {
    report += (await attw("--format", "ascii")).output;
    failed.push(`${manifest.name}: @arethetypeswrong/cli`);
  }
  return { report, failed };
}

const packages = publishedWorkspaces();
const dir = mkdtempSync(join(tmpdir(), "sluice-check-packages-"));
/** @type {string[]} */
const failed = [];
try {
  const tarballs = packAll(dir);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < packages.length; i = next++) {
      const tarball = tarballs[i];
      if (tarball === undefined)
        throw new Error(`npm pack made no tarball for ${packages[i]?.manifest.name}`);
      const result = await check(/** @type {import("./workspaces.mjs").Workspace} */ (packages[i]), tarball);
      process.stdout.write(result.report);
      failed.push(...result.failed);
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, availableParallelism()) }, worker));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
if (failed.length > 0) {
  console.error(`package checks failed: ${failed.join(", ")}`);
  process.exitCode = 1;
} else
  console.log(`${packages.length} published packages: publint and @arethetypeswrong/cli found nothing wrong`);
