import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setTenantRateLimit } from "../../src/domain/keys/tenant-limits.ts";
import { createTenant } from "../../src/domain/tenants/store.ts";
import { openTestDb, type TestDb } from "../support/db.ts";
import { sharedRedisUrl, uniquePrefix } from "./limiters.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));

interface Instance {
  process: ChildProcess;
  url: string;
}

/** `npm start`'s entry as its own process, on its own port, against the given database and Redis. */
async function startInstance(env: Record<string, string>): Promise<Instance> {
  const child = spawn(process.execPath, ["scripts/start.js"], {
    cwd: root,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => reject(new Error(`instance did not start:\n${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /"port":(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`instance exited with ${code}:\n${output}`));
    });
  });
  // Keep draining its output so a chatty instance never blocks on a full pipe.
  child.stdout?.resume();
  child.stderr?.resume();
  return { process: child, url: `http://127.0.0.1:${port}` };
}

async function stopInstance(instance: Instance): Promise<void> {
  if (instance.process.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    instance.process.once("exit", () => resolve());
    instance.process.kill("SIGTERM");
  });
}

/**
 * Two real gateway processes (the `npm start` entry) sharing one PostgreSQL database and the machine's Redis: the
 * limit holds for the key across both, exactly.
 */
describe("two gateway instances sharing one Redis", () => {
  let testDb: TestDb;
  const instances: Instance[] = [];
  beforeAll(async () => {
    testDb = await openTestDb("postgres");
    const env = {
      DATABASE_URL: testDb.url!,
      REDIS_URL: sharedRedisUrl,
      RATE_LIMIT_REDIS_PREFIX: uniquePrefix(),
      // Exactness is the point here, not outages: on a loaded test machine a slow decision must not count as
      // Redis being down (which would hand it to the per-instance fallback).
      REDIS_COMMAND_TIMEOUT_MS: "10000",
      PORT: "0",
      HOST: "127.0.0.1",
      LOG_LEVEL: "info",
      RUN_WORKER: "false",
    };
    instances.push(...(await Promise.all([startInstance(env), startInstance(env)])));
  }, 120_000);
  afterAll(async () => {
    await Promise.all(instances.map(stopInstance));
    await testDb?.close();
  });

  it("admit exactly the key's limit between them, whatever the interleaving", async () => {
    const { tenant, apiKey } = await createTenant(testDb.db, { name: "Two instances" });
    // 12 a minute: one more request is admitted every 5 s, far longer than the burst takes even on a loaded
    // machine (at 37 a minute the 1.6 s refill was shorter than a slow burst, which then admitted 38).
    await setTenantRateLimit(testDb.db, tenant.id, { perMinute: 12 });
    const request = (i: number) =>
      fetch(`${instances[i % 2]!.url}/v1/orders?limit=1`, { headers: { authorization: `Bearer ${apiKey}` } });
    // One request each first, so both instances have verified the key and the burst below really interleaves.
    const responses = [await request(0), await request(1)];
    responses.push(...(await Promise.all(Array.from({ length: 118 }, (_, i) => request(i)))));
    const statuses = responses.map((res) => res.status);
    expect(statuses.filter((status) => status === 200)).toHaveLength(12);
    expect(statuses.filter((status) => status === 429)).toHaveLength(108);
    for (const res of responses) {
      expect(res.headers.get("ratelimit-policy")).toBe('"default";q=12;w=60');
      await res.arrayBuffer();
    }
    const remaining = responses
      .filter((res) => res.status === 200)
      .map((res) => Number(/;r=(\d+);/.exec(res.headers.get("ratelimit") ?? "")?.[1]))
      .sort((a, b) => a - b);
    // Every admitted request saw a distinct remaining count: 0..11, each once.
    expect(remaining).toEqual(Array.from({ length: 12 }, (_, i) => i));
  });

  it("report Redis as their limiter in /readyz", async () => {
    for (const instance of instances) {
      const res = await fetch(`${instance.url}/readyz`);
      expect(res.status).toBe(200);
      expect((await res.json()).checks.rate_limiter).toEqual({ ok: true, detail: "redis" });
    }
  });
});
