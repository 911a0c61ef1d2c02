#!/usr/bin/env node
// API reports: one Markdown file per public entry point of each package (packages/<name>/api/*.api.md),
// made by @microsoft/api-extractor from the built .d.ts, and checked in so a change to a public API shows
// in review. `node scripts/api-report.mjs [--check] [package-dir...]`: without --check the reports are
// written; with it, a report that differs from the built API fails (the lint run checks it).
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Extractor, ExtractorConfig } from "@microsoft/api-extractor";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const check = args.includes("--check");
const given = args.filter((a) => !a.startsWith("--")).map((a) => resolve(a));
const packages = given.length > 0 ? given : publicPackages();

function publicPackages() {
  const dir = join(root, "packages");
  return readdirNames(dir)
    .map((name) => join(dir, name))
    .filter((p) => existsSync(join(p, "package.json")) && !readJson(join(p, "package.json")).private);
}

function readdirNames(dir) {
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

function readJson(path) {
  return JSON.parse(readFileSync(path, "utf8"));
}

// Entry points with types: "." and every subpath whose import condition names a .d.ts.
function entryPoints(pkgDir) {
  const { exports } = readJson(join(pkgDir, "package.json"));
  const out = [];
  for (const [subpath, target] of Object.entries(exports ?? {})) {
    const types = target?.import?.types ?? target?.types;
    if (typeof types !== "string") continue;
    const suffix = subpath === "." ? "" : `-${subpath.slice(2).replaceAll("/", "-")}`;
    out.push({ subpath, dts: join(pkgDir, types), report: `${pkgDir.split("/").pop()}${suffix}.api.md` });
  }
  return out;
}

let failed = 0;
const temp = mkdtempSync(join(tmpdir(), "sluice-api-"));
try {
  for (const pkgDir of packages) {
    for (const entry of entryPoints(pkgDir)) {
      if (!existsSync(entry.dts)) {
        console.error(`${entry.dts} is missing: build the package first`);
        failed++;
        continue;
      }
      mkdirSync(join(pkgDir, "api"), { recursive: true });
      const config = ExtractorConfig.prepare({
        configObject: {
          projectFolder: pkgDir,
          mainEntryPointFilePath: entry.dts,
          compiler: {
            overrideTsconfig: {
              compilerOptions: {
                target: "ES2022",
                lib: ["ES2023"],
                module: "NodeNext",
                moduleResolution: "NodeNext",
                types: ["node"],
                strict: true,
                skipLibCheck: true,
              },
            },
          },
          apiReport: {
            enabled: true,
            reportFileName: entry.report,
            reportFolder: join(pkgDir, "api"),
            reportTempFolder: temp,
            includeForgottenExports: false,
          },
          docModel: { enabled: false },
          dtsRollup: { enabled: false },
          tsdocMetadata: { enabled: false },
          messages: {
            compilerMessageReporting: { default: { logLevel: "warning" } },
            extractorMessageReporting: {
              default: { logLevel: "warning" },
              "ae-missing-release-tag": { logLevel: "none" },
              "ae-undocumented": { logLevel: "none" },
              "ae-forgotten-export": { logLevel: "none", addToApiReportFile: true },
            },
            tsdocMessageReporting: { default: { logLevel: "none" } },
          },
        },
        configObjectFullPath: join(pkgDir, "api-extractor.json"),
        packageJsonFullPath: join(pkgDir, "package.json"),
      });
      const result = Extractor.invoke(config, {
        localBuild: !check,
        messageCallback: (message) => {
          if (message.logLevel === "warning" || message.logLevel === "error") {
            console.error(`${entry.report}: ${message.text}`);
          }
          message.handled = true;
        },
      });
      if (check && result.apiReportChanged) {
        console.error(
          `${join(pkgDir, "api", entry.report)} is stale: the public API changed; run node scripts/api-report.mjs and commit it`,
        );
        failed++;
      } else if (!result.succeeded && !result.apiReportChanged) {
        console.error(`${entry.report}: api-extractor failed (${result.errorCount} errors)`);
        failed++;
      } else if (!check)
        console.log(`${join(pkgDir, "api", entry.report)}${result.apiReportChanged ? " (updated)" : ""}`);
    }
  }
} finally {
  rmSync(temp, { recursive: true, force: true });
}
process.exitCode = failed > 0 ? 1 : 0;
