#!/usr/bin/env node
// Prints "N passed, N failed" from vitest's JSON report: the line CI reads. A test file that failed to
// load counts as one failure; skipped tests are reported on the line before. Each `--failed-step NAME`
// (a CI step before the tests that failed: lint, typecheck, ...) counts as one more failure and is named
// on the line before, so the last line never says "0 failed" for a run that failed.
//
// usage: node scripts/test-summary.mjs [REPORT] [--failed-step NAME]...
import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";

const { values, positionals } = parseArgs({
  options: { "failed-step": { type: "string", multiple: true, default: [] } },
  allowPositionals: true,
});
const steps = values["failed-step"] ?? [];
const file = positionals[0] ?? ".ci/out/vitest.json";
if (steps.length > 0) console.log(`failed before the tests: ${steps.join(", ")}`);
if (!existsSync(file)) {
  console.log("no vitest report: the test run did not start");
  console.log(`0 passed, ${1 + steps.length} failed`);
  process.exit(0);
}
const report = JSON.parse(readFileSync(file, "utf8"));
const brokenFiles = report.testResults.filter(
  (r) => r.status === "failed" && !r.assertionResults.some((a) => a.status === "failed"),
).length;
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
if (skipped > 0) console.log(`${skipped} skipped`);
console.log(`${report.numPassedTests} passed, ${report.numFailedTests + brokenFiles + steps.length} failed`);
