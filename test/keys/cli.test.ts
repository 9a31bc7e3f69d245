import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { executeCommand } from "../../src/cli/execute.ts";
import { hashApiKey } from "../../src/domain/keys/format.ts";
import { findActiveKeyByHash } from "../../src/domain/keys/store.ts";
import { createTestContext, type TestContext } from "../support/app.ts";
import { openTestDb, type TestDb } from "../support/db.ts";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");
const bin = join(root, "bin", "cellvi-connect.js");

async function cli(args: string[], env: Record<string, string>) {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], {
      cwd: root,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", LOG_LEVEL: "warn", ...env },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

// Each step spawns the bin (a process start and module load, seconds on a loaded machine): the timeout is a
// hang guard, not a speed check.
describe("keys CLI as operators run it (the bin, against PostgreSQL)", { timeout: 120_000 }, () => {
  let t: TestDb;
  let env: Record<string, string>;
  beforeAll(async () => {
    t = await openTestDb("postgres");
    env = { DATABASE_URL: t.url! };
  });
  afterAll(() => t.close());

  it("rotates with a grace period, prints the new key once, and audits it", async () => {
    const tenant = JSON.parse(
      (await cli(["tenants", "create", "--name", "Rotate Co", "--json"], env)).stdout,
    );
    const oldKey: string = tenant.api_key;
    const listed = JSON.parse(
      (await cli(["keys", "list", "--tenant", tenant.tenant.id, "--json"], env)).stdout,
    );
    const oldId: string = listed.keys[0].id;

    const rotated = await cli(["keys", "rotate", oldId, "--grace", "1h", "--json"], env);
    expect(rotated.code).toBe(0);
    const out = JSON.parse(rotated.stdout);
    expect(out.api_key).toMatch(/^cvk_test_[0-9A-Za-z]{38}$/);
    expect(out.key.scopes).toEqual(listed.keys[0].scopes);
    expect(out.previous_key.replaced_by).toBe(out.key.id);
    const graceMs = new Date(out.previous_key.expires_at).getTime() - Date.now();
    expect(graceMs).toBeGreaterThan(3_500_000);
    expect(graceMs).toBeLessThanOrEqual(3_600_000);
    // Both work now; in an hour only the new one will.
    expect(await findActiveKeyByHash(t.db, hashApiKey(oldKey))).not.toBeNull();
    expect(await findActiveKeyByHash(t.db, hashApiKey(out.api_key))).not.toBeNull();
    const inAnHour = new Date(Date.now() + 3_601_000);
    expect(await findActiveKeyByHash(t.db, hashApiKey(oldKey), inAnHour)).toBeNull();
    expect(await findActiveKeyByHash(t.db, hashApiKey(out.api_key), inAnHour)).not.toBeNull();

    const text = await cli(["keys", "rotate", out.key.id, "--grace", "0"], env);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain("only time the key is shown");
    expect(text.stdout).toContain("revoked at once");
    expect(await findActiveKeyByHash(t.db, hashApiKey(out.api_key))).toBeNull();

    const audit = JSON.parse(
      (await cli(["keys", "audit", "--tenant", tenant.tenant.id, "--json"], env)).stdout,
    );
    expect(audit.events.map((e: { action: string; actor: string }) => `${e.action} by ${e.actor}`)).toEqual([
      "rotated by cli",
      "created by cli",
      "rotated by cli",
      "created by cli",
      "created by system",
    ]);
  });
});

describe("keys CLI commands (in process)", () => {
  let t: TestContext;
  beforeAll(async () => {
    t = await createTestContext("embedded", { env: { RATE_LIMIT_PLANS: "growth=600" } });
  });
  afterAll(() => t.close());
  const exec = (...argv: string[]) => executeCommand(t.services, argv);

  it("creates a key with its own limit and changes limits of keys and tenants", async () => {
    const { tenantId } = await t.newTenant();
    const created = await exec("keys", "create", "--tenant", tenantId, "--rate-limit", "30", "--json");
    expect(created.exitCode).toBe(0);
    const key = JSON.parse(created.stdout);
    expect(key.key.rate_limit_per_minute).toBe(30);
    const res = await t.request("/v1/orders", { key: key.api_key });
    expect(res.headers.get("ratelimit-policy")).toBe('"default";q=30;w=60');

    const changed = JSON.parse(
      (await exec("keys", "set-limit", key.key.id, "--per-minute", "12", "--json")).stdout,
    );
    expect(changed.key.rate_limit_per_minute).toBe(12);
    const after = await t.request("/v1/orders", { key: key.api_key });
    expect(after.headers.get("ratelimit-policy")).toBe('"default";q=12;w=60');
    await exec("keys", "set-limit", key.key.id, "--per-minute", "default");

    const plan = JSON.parse(
      (await exec("tenants", "set-limit", "--tenant", tenantId, "--plan", "growth", "--json")).stdout,
    );
    expect(plan.tenant).toMatchObject({
      plan: "growth",
      rate_limit_per_minute: null,
      effective_rate_limit_per_minute: 600,
    });
    const planned = await t.request("/v1/orders", { key: key.api_key });
    expect(planned.headers.get("ratelimit-policy")).toBe('"growth";q=600;w=60');
    const override = await exec("tenants", "set-limit", "--tenant", tenantId, "--per-minute", "900");
    expect(override.stdout).toContain("900 requests per minute per key (tenant override)");
  });

  it("revokes through the CLI with immediate effect in this process", async () => {
    const { tenantId } = await t.newTenant();
    const key = JSON.parse((await exec("keys", "create", "--tenant", tenantId, "--json")).stdout);
    expect((await t.request("/v1/orders", { key: key.api_key })).status).toBe(200);
    expect((await exec("keys", "revoke", key.key.id)).exitCode).toBe(0);
    expect((await t.request("/v1/orders", { key: key.api_key })).status).toBe(401);
  });

  it("rejects bad input with a usage error (exit code 2), never a stack", async () => {
    const { tenantId } = await t.newTenant();
    const cases = [
      ["keys", "rotate"],
      ["keys", "rotate", "00000000-0000-4000-8000-000000000000"],
      ["keys", "rotate", "not-a-uuid", "--grace", "1h"],
      ["keys", "rotate", "00000000-0000-4000-8000-000000000000", "--grace", "forever"],
      ["keys", "rotate", "00000000-0000-4000-8000-000000000000", "--grace", "31d"],
      ["keys", "rotate", "00000000-0000-4000-8000-000000000000", "--grace", "1500ms"],
      ["keys", "audit"],
      ["keys", "audit", "--tenant", tenantId, "--mode", "prod"],
      ["keys", "audit", "--tenant", tenantId, "--limit", "0"],
      ["keys", "set-limit", "00000000-0000-4000-8000-000000000000"],
      ["keys", "set-limit", "00000000-0000-4000-8000-000000000000", "--per-minute", "-5"],
      ["keys", "create", "--tenant", tenantId, "--rate-limit", "fast"],
      ["tenants", "set-limit", "--tenant", tenantId],
      ["tenants", "set-limit", "--tenant", tenantId, "--plan", "no spaces"],
    ];
    for (const argv of cases) {
      const outcome = await exec(...argv);
      expect(outcome.exitCode, argv.join(" ")).toBe(2);
      expect(outcome.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it("shows the audit log for people", async () => {
    const { tenantId } = await t.newTenant();
    const out = await exec("keys", "audit", "--tenant", tenantId);
    expect(out.stdout).toMatch(/created .* by system/);
  });
});
