import { defineConfig } from "vitest/config";

// The runtime contract run (`npm run test:contract`, a step of .ci/run): real server processes (Node, and the
// Supabase Edge Functions under Deno) against the machine's PostgreSQL and Redis. Kept out of `npm test` because it
// starts its own processes; its JSON report joins the CI summary.
// biome-ignore lint/style/noDefaultExport: Vitest loads a config file's default export.
export default defineConfig({
  test: {
    include: ["test/contract/**/*.contract.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    // One file, in order: the Node and Deno runs fill the transcripts the last test compares.
    maxWorkers: 1,
    fileParallelism: false,
    reporters: ["default", "json"],
    outputFile: { json: process.env.VITEST_JSON_REPORT ?? "test-results/contract.json" },
  },
});
