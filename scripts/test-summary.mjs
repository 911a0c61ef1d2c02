#!/usr/bin/env node
// Prints "N passed, N failed" from vitest's JSON report: the line CI reads. A test file that failed to
// load counts as one failure; skipped tests are reported on the line before.
import { existsSync, readFileSync } from "node:fs";

const file = process.argv[2] ?? ".ci/out/vitest.json";
if (!existsSync(file)) {
  console.log("no vitest report: the test run did not start");
  console.log("0 passed, 1 failed");
  process.exit(0);
}
const report = JSON.parse(readFileSync(file, "utf8"));
const brokenFiles = report.testResults.filter(
  (r) => r.status === "failed" && !r.assertionResults.some((a) => a.status === "failed"),
).length;
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
if (skipped > 0) console.log(`${skipped} skipped`);
console.log(`${report.numPassedTests} passed, ${report.numFailedTests + brokenFiles} failed`);
