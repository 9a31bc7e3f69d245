import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "src/**/*.test.ts", "sdk/**/*.test.ts"],
    exclude: ["test/faults/**", "node_modules/**"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    maxWorkers: 2,
    // The JSON report feeds the "N passed, N failed" line that .ci/run ends with.
    reporters: ["default", "json"],
    outputFile: { json: process.env.VITEST_JSON_REPORT ?? "test-results/vitest.json" },
  },
});
