import { afterEach, describe, expect, it } from "vitest";
import { RedisRateLimiter } from "../../src/adapters/ratelimit/redis.ts";
import type { RateLimitDecision, RateLimitPolicy } from "../../src/adapters/ratelimit/types.ts";
import { sharedRedisUrl, uniquePrefix } from "./limiters.ts";

const subject = () => `key:${Math.random().toString(36).slice(2)}`;
/** A window so long that no request comes back while a test runs (one per 10 s at 100,000 per 10⁶ s). */
const slow = (limit: number): RateLimitPolicy => ({ name: "big", limit, windowSeconds: 1_000_000 });

/**
 * A busy subject with a large quota is admitted from a reserve this instance took in Redis ahead of its requests
 * (src/adapters/ratelimit/redis.ts, `Lane`): fewer calls, the same decisions, and all instances together still never
 * admit more than the quota.
 */
describe("redis limiter: reserves of busy subjects with large quotas", () => {
  const open: RedisRateLimiter[] = [];
  const limiter = async (prefix: string, options: { reserveHoldMs?: number | false } = {}) => {
    const created = new RedisRateLimiter({ url: sharedRedisUrl, prefix, commandTimeoutMs: 2000, ...options });
    open.push(created);
    expect(await created.waitUntilReady(5000)).toBe(true);
    return created;
  };
  afterEach(async () => {
    await Promise.all(open.splice(0).map((created) => created.close()));
  });

  /** `turns` event-loop turns of `perTurn` requests each, one turn after the other. */
  const inTurns = async (
    consume: () => Promise<RateLimitDecision>,
    turns: number,
    perTurn: number,
  ): Promise<RateLimitDecision[]> => {
    const decisions: RateLimitDecision[] = [];
    for (let turn = 0; turn < turns; turn++) {
      decisions.push(...(await Promise.all(Array.from({ length: perTurn }, consume))));
    }
    return decisions;
  };

  it("admits a busy subject's requests from a reserve: far fewer calls, each request's remaining one less", async () => {
    const rl = await limiter(uniquePrefix());
    const s = subject();
    const decisions = await inTurns(() => rl.consume(s, slow(100_000)), 20, 50);
    expect(decisions.every((d) => d.allowed && d.backend === "redis")).toBe(true);
    // Exactly as if each had been decided in Redis one after the other.
    expect(decisions.map((d) => d.remaining)).toEqual(
      Array.from({ length: 1000 }, (_, i) => 100_000 - 1 - i),
    );
    // One call per turn without reserves (20); the reserve grows with the demand, so most turns need none.
    expect(rl.stats.calls).toBeLessThanOrEqual(8);
    expect(rl.stats.fromReserve).toBeGreaterThan(500);
  });

  it("decides at once from the reserve (decideNow), counting as consume does, and nothing when it cannot", async () => {
    const rl = await limiter(uniquePrefix());
    const s = subject();
    // A fresh subject has no reserve: not decided, not counted.
    expect(rl.decideNow(s, slow(100_000))).toBeUndefined();
    const built = await inTurns(() => rl.consume(s, slow(100_000)), 3, 50);
    const now = Array.from({ length: 20 }, () => rl.decideNow(s, slow(100_000)));
    expect(now.every((d) => d?.allowed === true && d.backend === "redis")).toBe(true);
    // One request after another, as if each had been decided in Redis.
    expect([...built, ...now].map((d) => d?.remaining)).toEqual(
      Array.from({ length: 170 }, (_, i) => 100_000 - 1 - i),
    );
    expect((await rl.consume(s, slow(100_000))).remaining).toBe(100_000 - 171);
    // A small quota never has a reserve.
    const small = subject();
    await inTurns(() => rl.consume(small, slow(199)), 2, 50);
    expect(rl.decideNow(small, slow(199))).toBeUndefined();
    expect((await rl.consume(small, slow(199))).remaining).toBe(199 - 101);
  });

  it("reserves nothing for a quota under 200 per window, nor for a subject whose requests come one at a time", async () => {
    const rl = await limiter(uniquePrefix());
    const small = subject();
    await inTurns(() => rl.consume(small, slow(199)), 3, 50);
    expect(rl.stats).toMatchObject({ calls: 3, fromReserve: 0 });
    const lone = subject();
    await inTurns(() => rl.consume(lone, slow(100_000)), 5, 1);
    expect(rl.stats).toMatchObject({ calls: 8, fromReserve: 0 });
  });

  it("never admits more than the quota across two instances, and close() gives the reserves back", async () => {
    const prefix = uniquePrefix();
    const a = await limiter(prefix);
    const b = await limiter(prefix);
    const s = subject();
    const policy = slow(1000);
    // Both instances at once, turn after turn, half again as many requests as the quota.
    const decisions: RateLimitDecision[] = [];
    for (let turn = 0; turn < 15; turn++) {
      const round = await Promise.all([
        ...Array.from({ length: 50 }, () => a.consume(s, policy)),
        ...Array.from({ length: 50 }, () => b.consume(s, policy)),
      ]);
      decisions.push(...round);
    }
    const admitted = decisions.filter((d) => d.allowed).length;
    expect(a.stats.fromReserve + b.stats.fromReserve).toBeGreaterThan(0);
    expect(admitted).toBeLessThanOrEqual(1000);
    // What one instance still held while the other was refused: at most a hundredth of the quota each.
    expect(admitted).toBeGreaterThanOrEqual(1000 - 2 * 10);
    await Promise.all([a.close(), b.close()]);
    // What neither used is back in Redis: a third instance, deciding request by request, sees exactly the rest.
    const c = await limiter(prefix, { reserveHoldMs: false });
    const next = await c.consume(s, policy);
    if (admitted === 1000) expect(next.allowed).toBe(false);
    else expect(next).toMatchObject({ allowed: true, remaining: 1000 - admitted - 1 });
  });

  it("gives back a reserve no request drew on for the hold time", async () => {
    const prefix = uniquePrefix();
    const rl = await limiter(prefix, { reserveHoldMs: 40 });
    const s = subject();
    const policy = slow(100_000);
    const decisions = await inTurns(() => rl.consume(s, policy), 3, 50);
    expect(decisions.every((d) => d.allowed)).toBe(true);
    const deadline = Date.now() + 5000;
    while (rl.stats.refunds === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(rl.stats.refunds).toBe(1);
    // Redis counts the 150 requests made, not the reserve.
    const other = await limiter(prefix, { reserveHoldMs: false });
    expect(await other.consume(s, policy)).toMatchObject({ allowed: true, remaining: 100_000 - 151 });
    // The lane is gone with its reserve: the next request of the subject goes to Redis.
    const calls = rl.stats.calls;
    await rl.consume(s, policy);
    expect(rl.stats.calls).toBe(calls + 1);
  });

  it("asks for no refill when the reserve ran low but the subject is no longer busy", async () => {
    const prefix = uniquePrefix();
    const other = await limiter(prefix, { reserveHoldMs: false });
    const rl = await limiter(prefix);
    const s = subject();
    const policy = slow(200);
    await inTurns(() => other.consume(s, policy), 1, 197);
    // Two requests in one turn: their call asks for a reserve of two, and only one request is left to reserve.
    expect((await inTurns(() => rl.consume(s, policy), 1, 2)).map((d) => d.remaining)).toEqual([2, 1]);
    expect(rl.stats).toMatchObject({ calls: 1, fromReserve: 0 });
    // A lone request takes it. Half the reserve asked for is gone, but a subject with one request since its last
    // call gets no reserve, so no call is made for nothing.
    expect(await rl.consume(s, policy)).toMatchObject({ allowed: true, remaining: 0 });
    await new Promise((resolve) => setImmediate(resolve));
    expect(rl.stats).toMatchObject({ calls: 1, fromReserve: 1 });
    expect(await rl.consume(s, policy)).toMatchObject({ allowed: false });
    expect(rl.stats.calls).toBe(2);
  });

  it("with reserveHoldMs false decides every request in Redis, one call per turn", async () => {
    const rl = await limiter(uniquePrefix(), { reserveHoldMs: false });
    const s = subject();
    await inTurns(() => rl.consume(s, slow(100_000)), 6, 50);
    expect(rl.stats).toMatchObject({ calls: 6, decisions: 300, fromReserve: 0 });
  });
});
