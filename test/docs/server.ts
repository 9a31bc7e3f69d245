import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createApiKey } from "../../src/domain/keys/store.ts";
import { createTenant } from "../../src/domain/tenants/store.ts";
import { openTestDb, type TestDb } from "../support/db.ts";

/**
 * A real server process (`scripts/start.js`, what `npm start` runs: HTTP app, webhook dispatcher, rate limiter)
 * on a private PostgreSQL database, for the tests that exercise the service the way integrators do: curl, a browser,
 * the SDK. Tenants and keys are created straight in that database, as the operator CLI would.
 */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export interface RunningServer {
  url: string;
  port: number;
  testDb: TestDb;
  /** A fresh tenant with a test key holding every customer scope, and a test key with scope `ops`. */
  newTenant(name?: string): Promise<{ tenantId: string; apiKey: string; opsKey: string }>;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

async function waitUntilReady(url: string, child: ChildProcess, deadlineMs: number): Promise<void> {
  const started = Date.now();
  while (Date.now() - started < deadlineMs) {
    if (child.exitCode !== null)
      throw new Error(`server exited with code ${child.exitCode} before it was ready`);
    try {
      const response = await fetch(`${url}/readyz`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`server not ready within ${deadlineMs} ms`);
}

export async function startServer(
  options: { name?: string; env?: Record<string, string> } = {},
): Promise<RunningServer> {
  const testDb = await openTestDb("postgres");
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  mkdirSync(resolve(repoRoot, "test-results"), { recursive: true });
  const log = createWriteStream(resolve(repoRoot, `test-results/${options.name ?? "docs"}-server.log`));
  const child = spawn(process.execPath, ["scripts/start.js"], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      PORT: String(port),
      HOST: "127.0.0.1",
      PUBLIC_BASE_URL: url,
      DATABASE_URL: testDb.url!,
      LOG_LEVEL: "info",
      RUN_WORKER: "true",
      // The guides' receivers listen on localhost, which the SSRF guard refuses unless told otherwise.
      WEBHOOK_ALLOW_PRIVATE_URLS: "true",
      // The connectors guide creates connectors, whose credentials are sealed with this key (32 bytes, base64).
      CONNECTOR_ENCRYPTION_KEY: "Y2VsbHZpLWRvY3MtdGVzdHMtb25seS0zMi1ieXRlcyE=",
      ...options.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<void>((resolveExit) => child.once("exit", () => resolveExit()));
  try {
    await waitUntilReady(url, child, 60_000);
  } catch (error) {
    child.kill("SIGKILL");
    await testDb.close();
    throw error;
  }
  return {
    url,
    port,
    testDb,
    async newTenant(name = "Docs Test Tenant") {
      const created = await createTenant(testDb.db, { name, mode: "test" });
      const ops = await createApiKey(testDb.db, {
        tenantId: created.tenant.id,
        mode: "test",
        scopes: ["ops"],
      });
      return { tenantId: created.tenant.id, apiKey: created.apiKey, opsKey: ops.apiKey };
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(timer);
      }
      log.end();
      await testDb.close();
    },
  };
}
