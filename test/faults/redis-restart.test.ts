import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTenant } from "../../src/domain/tenants/store.ts";
import { PrivateRedis } from "../ratelimit/private-redis.ts";
import { openTestDb, type TestDb } from "../support/db.ts";
import { type ServerProcess, startServerProcess } from "../support/server-process.ts";

/**
 * Redis killed and started again under traffic, against the real service process: by default the gateway keeps
 * serving with its in-memory limiter and says so on /readyz; with RATE_LIMIT_FAIL_CLOSED=true it answers 503
 * problem+json instead. Either way no request hangs or gets a 500, the process survives, and it goes back to Redis
 * by itself. (The limiter's own outage behaviour is tested in test/ratelimit/outage.test.ts; this is the whole
 * service.)
 */

interface Outcome {
  phase: "before" | "down" | "after";
  status: number | null;
  code: string | null;
  error: string | null;
}

const hangLimitMs = 20_000;

async function waitUntil(
  check: () => boolean | Promise<boolean>,
  what: string,
  limitMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.each([
  { failClosed: false, whileDown: [200] },
  { failClosed: true, whileDown: [503] },
])("Redis restarted during traffic (RATE_LIMIT_FAIL_CLOSED=$failClosed)", ({ failClosed, whileDown }) => {
  let redis: PrivateRedis;
  let testDb: TestDb;
  let server: ServerProcess;
  let base: string;
  let apiKey: string;
  let phase: Outcome["phase"] = "before";
  const outcomes: Outcome[] = [];
  let running = false;
  let traffic: Promise<void> | undefined;

  async function send(): Promise<void> {
    const startedIn = phase;
    try {
      const response = await fetch(`${base}/v1/orders?limit=1`, {
        headers: { authorization: `Bearer ${apiKey}` },
        signal: AbortSignal.timeout(hangLimitMs),
      });
      const body = (await response.json()) as { code?: string };
      outcomes.push({ phase: startedIn, status: response.status, code: body.code ?? null, error: null });
    } catch (error) {
      outcomes.push({ phase: startedIn, status: null, code: null, error: (error as Error).message });
    }
  }

  const readiness = async () => {
    const response = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(hangLimitMs) });
    const body = (await response.json()) as { checks: Record<string, { ok: boolean; detail?: string }> };
    return { status: response.status, limiter: body.checks.rate_limiter };
  };

  beforeAll(async () => {
    redis = await PrivateRedis.start();
    testDb = await openTestDb("postgres");
    ({ apiKey } = await createTenant(testDb.db, { name: "Redis faults", mode: "test" }));
    server = await startServerProcess({
      DATABASE_URL: testDb.url!,
      REDIS_URL: redis.url,
      RATE_LIMIT_PER_MINUTE: "1000000",
      RATE_LIMIT_FAIL_CLOSED: String(failClosed),
    });
    base = `http://127.0.0.1:${server.port}`;
    running = true;
    traffic = Promise.all(
      [0, 1, 2].map(async () => {
        for (let n = 0; running && n < 100_000; n++) {
          await send();
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      }),
    ).then(() => {});
  });

  afterAll(async () => {
    running = false;
    await traffic;
    server?.kill();
    await testDb?.close();
    await redis?.close();
  });

  it("keeps answering (fallback or 503 as configured), reports it on /readyz, and returns to Redis by itself", async () => {
    await waitUntil(() => outcomes.filter((o) => o.status === 200).length >= 20, "traffic before the outage");
    expect(await readiness()).toMatchObject({ status: 200, limiter: { ok: true, detail: "redis" } });

    await redis.stop();
    phase = "down";
    // The first requests may wait for the command timeout while the dead connection is noticed.
    await waitUntil(
      () => outcomes.filter((o) => o.phase === "down").length >= 30,
      "requests during the outage",
    );
    const down = await readiness();
    if (failClosed) {
      expect(down.status).toBe(503);
      expect(down.limiter?.ok).toBe(false);
    } else {
      expect(down.status).toBe(200);
      expect(down.limiter?.detail).toContain("in-memory fallback");
    }

    await redis.startProcess();
    phase = "after";
    await waitUntil(async () => {
      const ready = await readiness();
      return ready.status === 200 && ready.limiter?.detail === "redis";
    }, "the limiter to go back to Redis");
    await waitUntil(
      () => outcomes.filter((o) => o.phase === "after" && o.status === 200).length >= 20,
      "traffic after",
    );

    expect(outcomes.filter((o) => o.error !== null)).toEqual([]);
    // Once the outage is noticed, every answer is the configured one; a 503 is always problem+json.
    const settled = outcomes.filter((o) => o.phase === "down").slice(10);
    for (const outcome of settled) expect(whileDown).toContain(outcome.status);
    for (const outcome of outcomes) {
      expect([200, 503]).toContain(outcome.status);
      if (outcome.status === 503) expect(outcome.code).toBe("service_unavailable");
    }
    expect(server.child.exitCode).toBeNull();
    expect(server.logs.filter((line) => line.msg === "unhandled error")).toEqual([]);
  });
});
