import { setImmediate as nextTurn } from "node:timers/promises";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { MemoryRateLimiter } from "../../src/adapters/ratelimit/memory.ts";
import { RedisRateLimiter } from "../../src/adapters/ratelimit/redis.ts";
import { ResilientRateLimiter } from "../../src/adapters/ratelimit/resilient.ts";
import type { RateLimitDecision } from "../../src/adapters/ratelimit/types.ts";

const policy = { name: "default", limit: 3, windowSeconds: 60 };

describe("the in-memory limiter's answers", () => {
  let limiter: MemoryRateLimiter;
  afterEach(async () => {
    await limiter.close();
  });

  it("come together at the end of the event-loop turn, not one by one as each is decided", async () => {
    limiter = new MemoryRateLimiter();
    const answered: RateLimitDecision[] = [];
    const pending = [1, 2, 3, 4].map(() =>
      limiter.consume("key:a", policy).then((decision) => {
        answered.push(decision);
      }),
    );
    // However many microtasks run, nothing is answered within the turn.
    for (let i = 0; i < 10; i++) await Promise.resolve();
    expect(answered).toHaveLength(0);
    await nextTurn();
    await Promise.all(pending);
    expect(answered.map((d) => [d.allowed, d.remaining])).toEqual([
      [true, 2],
      [true, 1],
      [true, 0],
      [false, 0],
    ]);
  });

  it("are decided at once: a decision of the same turn already counts the ones before it", async () => {
    limiter = new MemoryRateLimiter();
    const first = limiter.consume("key:b", policy);
    const second = limiter.consume("key:b", policy);
    const third = limiter.consume("key:b", policy);
    expect(limiter.consumeNow("key:b", policy).allowed).toBe(false);
    expect((await first).remaining).toBe(2);
    expect((await second).remaining).toBe(1);
    expect((await third).remaining).toBe(0);
  });

  it("reject a policy it cannot apply, as before", async () => {
    limiter = new MemoryRateLimiter();
    await expect(
      limiter.consume("key:c", { name: "default", limit: 0, windowSeconds: 60 }),
    ).rejects.toThrow();
  });
});

describe("the in-memory fallback's answers while Redis is unreachable", () => {
  it("come together at the end of the event-loop turn too, decided in order", async () => {
    // Nothing listens on port 1: the Redis limiter is never available, so every decision is the fallback's.
    const redis = new RedisRateLimiter({
      url: "redis://127.0.0.1:1",
      prefix: "unused:",
      commandTimeoutMs: 200,
    });
    const memory = new MemoryRateLimiter();
    const limiter = new ResilientRateLimiter(redis, memory, {
      failClosed: false,
      logger: pino({ level: "silent" }),
    });
    try {
      const answered: RateLimitDecision[] = [];
      const pending = [1, 2, 3, 4].map(() =>
        limiter.consume("key:d", policy).then((decision) => {
          answered.push(decision);
        }),
      );
      for (let i = 0; i < 10; i++) await Promise.resolve();
      expect(answered).toHaveLength(0);
      await nextTurn();
      await Promise.all(pending);
      expect(answered.map((d) => [d.backend, d.allowed, d.remaining])).toEqual([
        ["memory", true, 2],
        ["memory", true, 1],
        ["memory", true, 0],
        ["memory", false, 0],
      ]);
    } finally {
      await limiter.close();
    }
  });
});
