import { setImmediate as nextTurn } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { MemoryRateLimiter } from "../../src/adapters/ratelimit/memory.ts";
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
