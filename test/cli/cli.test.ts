import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openTestDb, type TestDb } from "../support/db.ts";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");
const bin = join(root, "bin", "cellvi-connect.js");

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], env: Record<string, string>): Promise<CliRun> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], {
      cwd: root,
      env: { ...process.env, LOG_LEVEL: "warn", ...env },
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
describe("CLI against PostgreSQL (DATABASE_URL)", { timeout: 120_000 }, () => {
  let t: TestDb;
  let env: Record<string, string>;
  beforeAll(async () => {
    t = await openTestDb("postgres", { migrate: false });
    env = { DATABASE_URL: t.url! };
  });
  afterAll(() => t.close());

  it("migrates, then finds nothing to do", async () => {
    const first = await cli(["migrate", "--json"], env);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout).applied.length).toBeGreaterThan(0);
    const second = await cli(["migrate"], env);
    expect(second.stdout).toMatch(/up to date/);
  });

  it("creates a tenant, manages its keys, and keeps the JSON contract", async () => {
    const created = await cli(["tenants", "create", "--name", "Acme Logística", "--json"], env);
    expect(created.code).toBe(0);
    const tenant = JSON.parse(created.stdout);
    expect(tenant.tenant.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(tenant.api_key).toMatch(/^cvk_test_/);
    expect(created.stdout.trim().split("\n")).toHaveLength(1);

    const key = await cli(
      [
        "keys",
        "create",
        "--tenant",
        tenant.tenant.id,
        "--mode",
        "live",
        "--scopes",
        "ops,orders:read",
        "--json",
      ],
      env,
    );
    expect(key.code).toBe(0);
    const keyJson = JSON.parse(key.stdout);
    expect(keyJson.key.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(keyJson.api_key).toMatch(/^cvk_live_/);
    expect(keyJson.key.scopes).toEqual(["ops", "orders:read"]);

    const listed = await cli(["keys", "list", "--tenant", tenant.tenant.id], env);
    expect(listed.stdout).toContain(keyJson.key.id);
    expect(listed.stdout).not.toContain(keyJson.api_key);

    const revoked = await cli(["keys", "revoke", keyJson.key.id], env);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toMatch(/revoked/);
    const after = JSON.parse(
      (await cli(["keys", "list", "--tenant", tenant.tenant.id, "--json"], env)).stdout,
    );
    const entry = after.keys.find((k: { id: string }) => k.id === keyJson.key.id);
    expect(entry.revoked_at).not.toBeNull();
  });

  it("explains bad input with exit code 2", async () => {
    for (const args of [
      ["tenants", "create"],
      ["keys", "create", "--tenant", "00000000-0000-0000-0000-000000000000"],
      ["keys", "revoke", "nope"],
      ["tenants", "create", "--name", "x", "--mode", "prod"],
      ["no", "such", "command"],
      ["tenants", "create", "--name", "x", "--unknown-flag"],
    ]) {
      const result = await cli(args, env);
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stderr.length, args.join(" ")).toBeGreaterThan(0);
    }
  });
});

// Each step spawns the bin (a process start and module load, seconds on a loaded machine): the timeout is a
// hang guard, not a speed check.
describe("CLI on the embedded database", { timeout: 120_000 }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), "cellvi-cli-"));
  const env = { DATA_DIR: dataDir };
  let server: ChildProcess | undefined;
  afterAll(() => {
    server?.kill("SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("opens the database itself when no service runs", async () => {
    const created = await cli(["tenants", "create", "--name", "Offline", "--json"], env);
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout).tenant.id).toBeTruthy();
  });

  it("hands its command to the running service, whose database it then shares", async () => {
    server = spawn(process.execPath, ["scripts/start.js"], {
      cwd: root,
      env: { ...process.env, DATA_DIR: dataDir, PORT: "0", LOG_LEVEL: "info" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const port = await new Promise<number>((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 60_000);
      server!.stdout!.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        const match = /listening on http:\/\/localhost:(\d+)/.exec(out);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      });
      server!.on("exit", (code) => reject(new Error(`server exited with ${code}: ${out}`)));
    });

    const created = await cli(["tenants", "create", "--name", "Online", "--json"], env);
    expect(created.code, created.stderr).toBe(0);
    const { api_key: apiKey } = JSON.parse(created.stdout);
    const listed = await cli(["tenants", "list"], env);
    expect(listed.stdout).toContain("Offline");
    expect(listed.stdout).toContain("Online");

    const res = await fetch(`http://127.0.0.1:${port}/v1/orders`, {
      headers: { authorization: `Bearer ${apiKey}` },
    });
    expect(res.status).toBe(200);

    // A second service on the same data directory is refused instead of corrupting it.
    const second = spawn(process.execPath, ["scripts/start.js"], {
      cwd: root,
      env: { ...process.env, DATA_DIR: dataDir, PORT: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let secondErr = "";
    second.stderr!.on("data", (c: Buffer) => {
      secondErr += c.toString();
    });
    second.stdout!.on("data", (c: Buffer) => {
      secondErr += c.toString();
    });
    const code = await new Promise<number | null>((resolve) => second.on("exit", resolve));
    expect(code).toBe(1);
    expect(secondErr).toMatch(/in use by process/);

    server.kill("SIGTERM");
    const exit = await new Promise<number | null>((resolve) => server!.on("exit", resolve));
    expect(exit).toBe(0);
    server = undefined;
  });
});
