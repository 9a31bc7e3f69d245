#!/usr/bin/env node
// Adds up the vitest JSON reports given as arguments and prints the closing line CI reads: "N passed, N failed".
// A report that is missing counts as a failure: a run that executed nothing must not look green.
import { existsSync, readFileSync } from "node:fs";

let passed = 0;
let failed = 0;
let skipped = 0;
for (const file of process.argv.slice(2)) {
  if (!existsSync(file)) {
    console.error(`missing test report: ${file}`);
    failed += 1;
    continue;
  }
  const report = JSON.parse(readFileSync(file, "utf8"));
  passed += report.numPassedTests ?? 0;
  // Failed tests; a file that failed to load has no failed test but a failed suite, which must count too.
  const failedTests = report.numFailedTests ?? 0;
  failed +=
    failedTests > 0 ? failedTests : (report.numFailedTestSuites ?? 0) + (report.success === false ? 1 : 0);
  skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exitCode = failed > 0 || passed === 0 ? 1 : 0;
