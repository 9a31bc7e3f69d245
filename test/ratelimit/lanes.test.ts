import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisRateLimiter } from "../../src/adapters/ratelimit/redis.ts";
import type { RateLimitDecision, RateLimitPolicy } from "../../src/adapters/ratelimit/types.ts";
import { rateLimitHeaders } from "../../src/http/rate-limit.ts";
import { sharedRedisUrl, uniquePrefix } from "./limiters.ts";

const subject = () => `key:${Math.random().toString(36).slice(2)}`;

/**
 * The Redis limiter keeps its in-flight calls by subject, then by policy: requests of one subject under two
 * policies at once (a key whose limit changed while its requests were in flight) stay in separate batches, each
 * decided under its own policy.
 */
describe("redis limiter: one subject under two policies at once", () => {
  let limiter: RedisRateLimiter;
  beforeAll(async () => {
    limiter = new RedisRateLimiter({ url: sharedRedisUrl, prefix: uniquePrefix(), commandTimeoutMs: 2000 });
    expect(await limiter.waitUntilReady(5000)).toBe(true);
  });
  afterAll(() => limiter.close());

  it("decides each request under its own policy, and frees the subject once both are done", async () => {
    const s = subject();
    const small: RateLimitPolicy = { name: "small", limit: 2, windowSeconds: 60 };
    const large: RateLimitPolicy = { name: "large", limit: 100, windowSeconds: 60 };
    const decisions = await Promise.all([
      limiter.consume(s, small),
      limiter.consume(s, large),
      limiter.consume(s, small),
      limiter.consume(s, large),
      limiter.consume(s, small),
    ]);
    // Both policies count on the subject's one stored arrival time, in the order the calls reached Redis; what
    // matters here is that no request was decided under the other policy's interval.
    for (const [i, decision] of decisions.entries()) {
      const policy = i % 2 === 0 ? small : large;
      expect(decision.remaining).toBeLessThan(policy.limit);
    }
    expect(decisions.filter((_, i) => i % 2 === 1).every((d) => d.allowed)).toBe(true);
    // The subject's lanes are gone: the next request gets a call of its own.
    const before = limiter.stats.calls;
    await limiter.consume(s, large);
    expect(limiter.stats.calls - before).toBe(1);
    expect((limiter as unknown as { lanes: Map<string, unknown> }).lanes.size).toBe(0);
  });
});

describe("RateLimit headers", () => {
  const decision = (remaining: number): RateLimitDecision => ({
    allowed: true,
    remaining,
    resetMicros: 1_500_000,
    retryAfterMicros: 0,
    backend: "memory",
  });

  it("follow a plan's limit when it changes, though the policy's fields are kept by name", () => {
    const before = rateLimitHeaders({ name: "growth", limit: 100, windowSeconds: 60 }, decision(7));
    expect(before).toEqual({ "ratelimit-policy": '"growth";q=100;w=60', ratelimit: '"growth";r=7;t=2' });
    const after = rateLimitHeaders({ name: "growth", limit: 5, windowSeconds: 60 }, decision(4));
    expect(after).toEqual({ "ratelimit-policy": '"growth";q=5;w=60', ratelimit: '"growth";r=4;t=2' });
    const window = rateLimitHeaders({ name: "growth", limit: 5, windowSeconds: 30 }, decision(4));
    expect(window["ratelimit-policy"]).toBe('"growth";q=5;w=30');
  });

  it("escape a policy name as an sf-string", () => {
    const headers = rateLimitHeaders({ name: 'pro "plus"\\ñ', limit: 10, windowSeconds: 60 }, decision(1));
    expect(headers["ratelimit-policy"]).toBe('"pro \\"plus\\"\\\\_";q=10;w=60');
  });
});
