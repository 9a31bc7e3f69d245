import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisRateLimiter } from "../../src/adapters/ratelimit/redis.ts";
import type { RateLimitPolicy } from "../../src/adapters/ratelimit/types.ts";
import { sharedRedisUrl, uniquePrefix } from "./limiters.ts";
import { PrivateRedis } from "./private-redis.ts";

const perMinute = (limit: number): RateLimitPolicy => ({ name: "default", limit, windowSeconds: 60 });
const subject = () => `key:${Math.random().toString(36).slice(2)}`;

/**
 * Concurrent requests of one subject share a script call (one round trip decides the whole queue). These tests
 * show that coalescing changes how many calls are made, never what is decided.
 */
describe("redis limiter: concurrent requests of one subject are decided in batches", () => {
  let limiter: RedisRateLimiter;
  beforeAll(async () => {
    limiter = new RedisRateLimiter({ url: sharedRedisUrl, prefix: uniquePrefix(), commandTimeoutMs: 2000 });
    expect(await limiter.waitUntilReady(5000)).toBe(true);
  });
  afterAll(() => limiter.close());

  it("decides a burst of 300 in far fewer calls, each request with its own exact decision", async () => {
    const s = subject();
    const before = { ...limiter.stats };
    const decisions = await Promise.all(
      Array.from({ length: 300 }, () => limiter.consume(s, perMinute(200))),
    );
    const calls = limiter.stats.calls - before.calls;
    expect(limiter.stats.decisions - before.decisions).toBe(300);
    // All 300 arrive in one turn: at most 256 per call, so exactly two calls.
    expect(calls).toBe(2);
    const allowed = decisions.filter((d) => d.allowed);
    expect(allowed).toHaveLength(200);
    // Each admitted request saw a distinct remaining count: 199, 198, ... 0, as if they had come one by one.
    expect(allowed.map((d) => d.remaining).sort((a, b) => b - a)).toEqual(
      Array.from({ length: 200 }, (_, i) => 199 - i),
    );
    // In arrival order: the first 200 admitted, the last 100 refused with a retry time.
    expect(decisions.slice(0, 200).every((d) => d.allowed)).toBe(true);
    for (const denied of decisions.slice(200)) {
      expect(denied.allowed).toBe(false);
      expect(denied.remaining).toBe(0);
      expect(denied.retryAfterMicros).toBeGreaterThan(0);
    }
  });

  it("decides the requests of one subject made in one event-loop turn in a single call", async () => {
    const s = subject();
    const before = limiter.stats.calls;
    const decisions = await Promise.all(Array.from({ length: 10 }, () => limiter.consume(s, perMinute(8))));
    // Not one call for the first request and a second for the nine queued behind it: one call for the turn.
    expect(limiter.stats.calls - before).toBe(1);
    expect(decisions.map((d) => d.remaining)).toEqual([7, 6, 5, 4, 3, 2, 1, 0, 0, 0]);
    expect(decisions.map((d) => d.allowed)).toEqual([...Array(8).fill(true), false, false]);
  });

  it("weighs each request of a batch by its own cost, in order", async () => {
    const s = subject();
    // Five requests of one turn, decided in one call.
    const first = limiter.consume(s, perMinute(10), 1);
    const rest = [limiter.consume(s, perMinute(10), 6), limiter.consume(s, perMinute(10), 4)];
    rest.push(limiter.consume(s, perMinute(10), 3), limiter.consume(s, perMinute(10), 1));
    const [a, b, c, d, e] = await Promise.all([first, ...rest]);
    expect([a?.allowed, b?.allowed, c?.allowed, d?.allowed, e?.allowed]).toEqual([
      true,
      true,
      false,
      true,
      false,
    ]);
    expect(d?.remaining).toBe(0);
    // The refused cost-4 request consumed nothing: the cost-3 one after it still fitted.
    expect(c?.remaining).toBe(3);
  });

  it("keeps subjects and policies apart while coalescing", async () => {
    const s1 = subject();
    const s2 = subject();
    const results = await Promise.all([
      ...Array.from({ length: 50 }, () => limiter.consume(s1, perMinute(20))),
      ...Array.from({ length: 50 }, () => limiter.consume(s2, perMinute(30))),
    ]);
    expect(results.slice(0, 50).filter((d) => d.allowed)).toHaveLength(20);
    expect(results.slice(50).filter((d) => d.allowed)).toHaveLength(30);
  });

  it("two limiters on one Redis still share one budget exactly", async () => {
    const prefix = uniquePrefix();
    const other = new RedisRateLimiter({ url: sharedRedisUrl, prefix, commandTimeoutMs: 2000 });
    const third = new RedisRateLimiter({ url: sharedRedisUrl, prefix, commandTimeoutMs: 2000 });
    try {
      expect(await other.waitUntilReady(5000)).toBe(true);
      expect(await third.waitUntilReady(5000)).toBe(true);
      const s = subject();
      const decisions = await Promise.all(
        Array.from({ length: 400 }, (_, i) => (i % 2 === 0 ? other : third).consume(s, perMinute(150))),
      );
      expect(decisions.filter((d) => d.allowed)).toHaveLength(150);
    } finally {
      await other.close();
      await third.close();
    }
  });
});

describe("redis limiter: a failed call fails its whole batch, and the subject recovers", () => {
  let redis: PrivateRedis;
  beforeAll(async () => {
    redis = await PrivateRedis.start();
  });
  afterAll(() => redis.stop());

  it("rejects every queued request when Redis does not answer in time, then decides again", async () => {
    const limiter = new RedisRateLimiter({
      url: `redis://127.0.0.1:${redis.port}`,
      prefix: uniquePrefix(),
      commandTimeoutMs: 150,
    });
    const admin = new Redis(redis.port, "127.0.0.1");
    try {
      expect(await limiter.waitUntilReady(5000)).toBe(true);
      const s = subject();
      // Redis stops answering commands for 600 ms: the call in flight and the batch queued behind it time out.
      await admin.call("client", "pause", "600", "all");
      const outcomes = await Promise.allSettled(
        Array.from({ length: 20 }, () => limiter.consume(s, perMinute(5))),
      );
      expect(outcomes.every((o) => o.status === "rejected")).toBe(true);
      // Once it answers again, the same subject is decided normally, and the failed calls consumed nothing.
      await admin.call("client", "unpause");
      let decision = await limiter.consume(s, perMinute(5)).catch(() => null);
      for (let i = 0; i < 20 && decision === null; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        decision = await limiter.consume(s, perMinute(5)).catch(() => null);
      }
      expect(decision?.allowed).toBe(true);
      expect(decision?.remaining).toBeGreaterThanOrEqual(3);
    } finally {
      admin.disconnect();
      await limiter.close();
    }
  });
});
