import { afterAll, describe, expect, it } from "vitest";
import type { RateLimiter, RateLimitPolicy } from "../../src/adapters/ratelimit/types.ts";
import { limiterFactories, sleep, uniquePrefix } from "./limiters.ts";

/**
 * The contract every RateLimiter implementation keeps. The same tests run against the in-memory limiter and the
 * Redis one on the shared server (under a random key prefix).
 */
describe.each(limiterFactories)("rate limiter contract: $name", (factory) => {
  const opened: RateLimiter[] = [];
  const prefix = uniquePrefix();
  async function limiter(share = prefix): Promise<RateLimiter> {
    const created = await factory.create(share);
    if (!opened.includes(created)) opened.push(created);
    return created;
  }
  afterAll(async () => {
    for (const l of opened) await l.close();
  });
  const subject = () => `key:${Math.random().toString(36).slice(2)}`;
  const perMinute = (limit: number): RateLimitPolicy => ({ name: "default", limit, windowSeconds: 60 });

  it("admits exactly the limit in a burst, then denies", async () => {
    const l = await limiter();
    const s = subject();
    const decisions = [];
    for (let i = 0; i < 12; i++) decisions.push(await l.consume(s, perMinute(10)));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(10);
    expect(decisions.slice(0, 10).every((d) => d.allowed)).toBe(true);
    expect(decisions.slice(10).every((d) => !d.allowed)).toBe(true);
  });

  it("counts remaining down to zero and says when the quota is whole again", async () => {
    const l = await limiter();
    const s = subject();
    const remaining = [];
    for (let i = 0; i < 5; i++) remaining.push((await l.consume(s, perMinute(5))).remaining);
    expect(remaining).toEqual([4, 3, 2, 1, 0]);
    const denied = await l.consume(s, perMinute(5));
    expect(denied.allowed).toBe(false);
    expect(denied.remaining).toBe(0);
    // 5 per minute: one more every 12 s, the whole quota back within a minute.
    expect(denied.retryAfterMicros).toBeGreaterThan(11_000_000);
    expect(denied.retryAfterMicros).toBeLessThanOrEqual(12_000_000);
    expect(denied.resetMicros).toBeGreaterThan(59_000_000);
    expect(denied.resetMicros).toBeLessThanOrEqual(60_000_000);
  });

  it("a denied request consumes nothing", async () => {
    const l = await limiter();
    const s = subject();
    await l.consume(s, perMinute(2));
    await l.consume(s, perMinute(2));
    // Had a denial counted, each would push the next admission 30 s further away; time only brings it closer.
    let previous = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 20; i++) {
      const denied = await l.consume(s, perMinute(2));
      expect(denied.allowed).toBe(false);
      expect(denied.retryAfterMicros).toBeLessThanOrEqual(previous);
      previous = denied.retryAfterMicros;
    }
    expect(previous).toBeGreaterThan(20_000_000);
  });

  it("refills one request per window/limit, never a fresh full window at a boundary", async () => {
    const l = await limiter();
    const s = subject();
    // 4 per 8 s: one request back every 2 s. Drain it (a slow machine may see one refill while draining).
    const policy: RateLimitPolicy = { name: "default", limit: 4, windowSeconds: 8 };
    let denied = await l.consume(s, policy);
    for (let i = 0; i < 10 && denied.allowed; i++) denied = await l.consume(s, policy);
    expect(denied.allowed).toBe(false);
    expect(denied.retryAfterMicros).toBeLessThanOrEqual(2_000_000);
    // Wait for that one interval: one request comes back, not the whole quota.
    await sleep(Math.ceil(denied.retryAfterMicros / 1000) + 30);
    const burst = [];
    for (let i = 0; i < 4; i++) burst.push((await l.consume(s, policy)).allowed);
    expect(burst[0]).toBe(true);
    expect(burst.filter(Boolean).length).toBeLessThan(4);
  });

  it("keeps subjects apart", async () => {
    const l = await limiter();
    const a = subject();
    const b = subject();
    for (let i = 0; i < 3; i++) await l.consume(a, perMinute(3));
    expect((await l.consume(a, perMinute(3))).allowed).toBe(false);
    expect((await l.consume(b, perMinute(3))).allowed).toBe(true);
  });

  it("carries what was used over to a changed limit (plan change)", async () => {
    const l = await limiter();
    const upgraded = subject();
    for (let i = 0; i < 3; i++) await l.consume(upgraded, perMinute(3));
    expect((await l.consume(upgraded, perMinute(3))).allowed).toBe(false);
    // 3 used of a new 30: 27 more now, not 30 and not 0.
    const afterUpgrade = [];
    for (let i = 0; i < 30; i++) afterUpgrade.push((await l.consume(upgraded, perMinute(30))).allowed);
    expect(afterUpgrade.filter(Boolean)).toHaveLength(27);

    const downgraded = subject();
    for (let i = 0; i < 10; i++) await l.consume(downgraded, perMinute(100));
    // 10 used of a new 10: nothing left.
    expect((await l.consume(downgraded, perMinute(10))).allowed).toBe(false);
  });

  it("weighs a request by its cost", async () => {
    const l = await limiter();
    const s = subject();
    expect((await l.consume(s, perMinute(10), 7)).remaining).toBe(3);
    expect((await l.consume(s, perMinute(10), 4)).allowed).toBe(false);
    expect((await l.consume(s, perMinute(10), 3)).allowed).toBe(true);
  });

  it("admits exactly the limit under concurrency, across two limiters sharing one store", async () => {
    const share = uniquePrefix();
    const first = await limiter(share);
    const second = await limiter(share);
    const s = subject();
    const policy = perMinute(25);
    const decisions = await Promise.all(
      Array.from({ length: 80 }, (_, i) => (i % 2 === 0 ? first : second).consume(s, policy)),
    );
    expect(decisions.filter((d) => d.allowed)).toHaveLength(25);
  });

  it("rejects nonsense policies instead of guessing", async () => {
    const l = await limiter();
    await expect(l.consume(subject(), { name: "x", limit: 0, windowSeconds: 60 })).rejects.toThrow(
      RangeError,
    );
    await expect(l.consume(subject(), { name: "x", limit: 1, windowSeconds: 0 })).rejects.toThrow(RangeError);
    await expect(l.consume(subject(), perMinute(5), 0)).rejects.toThrow(RangeError);
  });

  it("reports itself healthy", async () => {
    const health = (await limiter()).health();
    expect(health.ok).toBe(true);
    expect(health.active).toBe(factory.name);
  });
});
