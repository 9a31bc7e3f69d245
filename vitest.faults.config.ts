import { defineConfig } from "vitest/config";

/**
 * `npm run test:faults`: outage tests (a private PostgreSQL stopped under traffic, a private Redis stopped, a
 * dispatcher killed mid-burst, alone and while another drains the same burst). They start and stop real servers, so
 * they run apart from `npm test`, one file at a time, with their own JSON report for `.ci/run`.
 */
// biome-ignore lint/style/noDefaultExport: vitest reads its configuration from the default export.
export default defineConfig({
  test: {
    include: ["test/faults/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    maxWorkers: 1,
    fileParallelism: false,
    reporters: ["default", "json"],
    outputFile: { json: process.env.VITEST_JSON_REPORT ?? "test-results/vitest-faults.json" },
  },
});
