import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");
const run = promisify(execFile);

describe("the webhook sender on Deno (the Edge runtime)", () => {
  it("refuses, at connection time, a name that resolves to a forbidden address", async () => {
    const { stdout } = await run(
      join(root, "node_modules", ".bin", "deno"),
      [
        "run",
        "--node-modules-dir=manual",
        "--cached-only",
        "--config=supabase/functions/webhook-dispatcher/deno.json",
        "--allow-net",
        "--allow-env",
        "--allow-read",
        "--allow-sys",
        "--no-prompt",
        "test/supabase/deno/sender-guard.ts",
      ],
      {
        cwd: root,
        timeout: 120_000,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          DENO_DIR: join(root, "node_modules", ".cache", "deno"),
          NO_COLOR: "1",
        },
      },
    );
    const outcome = JSON.parse(stdout.trim().split("\n").at(-1)!);
    // The same request, with and without the guard: only the guard's verdict differs.
    expect(outcome.blocked).toMatchObject({ kind: "error", reason: "blocked" });
    expect(outcome.blocked.error).toContain("127.0.0.1");
    expect(outcome.allowed).toMatchObject({ kind: "response", status: 200, body: "reached" });
  });
});
