import { Writable } from "node:stream";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createRateLimiter } from "../../src/adapters/ratelimit/index.ts";
import { RateLimiterUnavailableError } from "../../src/adapters/ratelimit/types.ts";
import { createTestContext, type TestContext } from "../support/app.ts";
import { uniquePrefix } from "./limiters.ts";
import { PrivateRedis } from "./private-redis.ts";

/**
 * Redis outages, on a private redis-server this file starts, kills and restarts itself (never the shared one).
 */
/** How many rate-limit decisions Redis made (allowed), from the metrics text. */
function redisDecisions(metrics: string): number {
  const match = /cellvi_rate_limit_decision_seconds_count\{backend="redis",decision="allowed"\} (\d+)/.exec(
    metrics,
  );
  return match ? Number(match[1]) : 0;
}

// The outage tests wait through a dead server's command timeouts and a restart, each on an embedded database of its
// own: a few seconds alone, but once past the default 30 s on a machine loaded by other suites running beside them.
describe("rate limiting through a Redis outage", { timeout: 90_000 }, () => {
  let redis: PrivateRedis;
  beforeAll(async () => {
    redis = await PrivateRedis.start();
  });
  afterAll(() => redis.close());
  // Whatever a test did to the server, the next one starts with it up.
  afterEach(() => redis.ensureRunning());

  async function readiness(t: TestContext) {
    const res = await t.request("/readyz");
    return {
      status: res.status,
      check: (await res.json()).checks.rate_limiter as { ok: boolean; detail: string },
    };
  }

  it("falls back to memory, says so in /readyz and the logs, and goes back to Redis by itself", async () => {
    const prefix = uniquePrefix();
    const t = await createTestContext("embedded", {
      env: {
        REDIS_URL: redis.url,
        RATE_LIMIT_REDIS_PREFIX: prefix,
        RATE_LIMIT_PER_MINUTE: "1000",
        // The outage here is a dead server, not a slow one: a loaded test machine must not fake one.
        REDIS_COMMAND_TIMEOUT_MS: "2000",
      },
    });
    try {
      const { apiKey } = await t.newTenant();
      expect((await t.request("/v1/orders", { key: apiKey })).status).toBe(200);
      expect(await readiness(t)).toEqual({ status: 200, check: { ok: true, detail: "redis" } });
      // Decided in Redis. (The metric, not the bucket's key: at 1,000/min a GCRA bucket expires after ~60 ms,
      // which a loaded machine can outlast between the request and a look at Redis.)
      const redisDecisionsBefore = redisDecisions(await t.services.metrics.render());
      expect(redisDecisionsBefore).toBeGreaterThanOrEqual(1);

      await redis.stop();
      // Keeps serving (the first requests may wait for the command timeout while the dead connection is noticed),
      // limited per instance, and still says how much is left.
      for (let i = 0; i < 5; i++) {
        const res = await t.request("/v1/orders", { key: apiKey });
        expect(res.status).toBe(200);
        expect(res.headers.get("ratelimit")).toMatch(/^"default";r=\d+;t=\d+$/);
      }
      const degraded = await readiness(t);
      expect(degraded.status).toBe(200);
      expect(degraded.check.ok).toBe(true);
      expect(degraded.check.detail).toContain("in-memory fallback");
      // Operators see it in the metrics too: decisions made in memory, counted as fallbacks.
      const metrics = await t.services.metrics.render();
      expect(metrics).toMatch(/cellvi_rate_limiter_fallbacks_total\{reason="memory"\} [1-9]/);
      expect(metrics).toMatch(
        /cellvi_rate_limit_decision_seconds_count\{backend="redis",decision="allowed"\} [1-9]/,
      );

      await redis.startProcess();
      await vi.waitFor(
        async () => {
          expect((await t.request("/v1/orders", { key: apiKey })).status).toBe(200);
          expect(await readiness(t)).toEqual({ status: 200, check: { ok: true, detail: "redis" } });
        },
        { timeout: 10_000, interval: 100 },
      );
      // Decided in Redis again, on the restarted server.
      expect(redisDecisions(await t.services.metrics.render())).toBeGreaterThan(redisDecisionsBefore);
    } finally {
      await t.close();
    }
  });

  it("with RATE_LIMIT_FAIL_CLOSED refuses keyed and tracking requests with 503 until Redis is back", async () => {
    const t = await createTestContext("embedded", {
      env: { REDIS_URL: redis.url, RATE_LIMIT_REDIS_PREFIX: uniquePrefix(), RATE_LIMIT_FAIL_CLOSED: "true" },
    });
    try {
      const { apiKey } = await t.newTenant();
      expect((await t.request("/v1/orders", { key: apiKey })).status).toBe(200);
      await redis.stop();
      const refused = await t.request("/v1/orders", { key: apiKey });
      expect(refused.status).toBe(503);
      expect(refused.headers.get("content-type")).toBe("application/problem+json");
      expect(refused.headers.get("retry-after")).toBe("1");
      expect((await refused.json()).code).toBe("service_unavailable");
      expect(await t.services.metrics.render()).toMatch(
        /cellvi_rate_limiter_fallbacks_total\{reason="refused"\} [1-9]/,
      );
      expect((await t.request("/v1/tracking/CV0000000000?token=x")).status).toBe(503);
      const degraded = await readiness(t);
      expect(degraded.status).toBe(503);
      expect(degraded.check.ok).toBe(false);
      expect(degraded.check.detail).toContain("fail closed");
      // Health endpoints themselves are not rate limited: they keep answering.
      expect((await t.request("/healthz")).status).toBe(200);

      await redis.startProcess();
      await vi.waitFor(
        async () => {
          expect((await t.request("/v1/orders", { key: apiKey })).status).toBe(200);
          expect((await readiness(t)).status).toBe(200);
        },
        { timeout: 10_000, interval: 100 },
      );
    } finally {
      await t.close();
    }
  });

  it("logs the outage once and the recovery once", async () => {
    const lines: { level: number; msg: string }[] = [];
    const logger = pino(
      { level: "info" },
      new Writable({
        write(chunk, _encoding, done) {
          for (const line of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(line));
          done();
        },
      }),
    );
    const { limiter, ready } = createRateLimiter(
      {
        REDIS_URL: redis.url,
        RATE_LIMIT_REDIS_PREFIX: uniquePrefix(),
        REDIS_COMMAND_TIMEOUT_MS: 250,
        RATE_LIMIT_FAIL_CLOSED: false,
      },
      logger,
    );
    try {
      expect(await ready(5000)).toBe(true);
      const policy = { name: "default", limit: 100, windowSeconds: 60 };
      expect((await limiter.consume("key:a", policy)).allowed).toBe(true);
      await redis.stop();
      for (let i = 0; i < 10; i++) expect((await limiter.consume("key:a", policy)).allowed).toBe(true);
      expect(limiter.health()).toMatchObject({ ok: true, active: "memory", degraded: true });
      await redis.startProcess();
      await vi.waitFor(async () => expect(limiter.health().active).toBe("redis"), { timeout: 10_000 });
      await limiter.consume("key:a", policy);
      const messages = lines.map((line) => line.msg);
      expect(messages.filter((m) => m.includes("falling back to the in-memory limiter"))).toHaveLength(1);
      expect(messages.filter((m) => m.includes("redis is back"))).toHaveLength(1);
    } finally {
      await limiter.close();
    }
  });

  it("fails closed at the limiter level with a typed error", async () => {
    const { limiter, ready } = createRateLimiter(
      {
        REDIS_URL: redis.url,
        RATE_LIMIT_REDIS_PREFIX: uniquePrefix(),
        REDIS_COMMAND_TIMEOUT_MS: 250,
        RATE_LIMIT_FAIL_CLOSED: true,
      },
      pino({ level: "silent" }),
    );
    try {
      expect(await ready(5000)).toBe(true);
      await redis.stop();
      await expect(
        limiter.consume("key:b", { name: "default", limit: 1, windowSeconds: 60 }),
      ).rejects.toBeInstanceOf(RateLimiterUnavailableError);
    } finally {
      await limiter.close();
    }
  });
});
