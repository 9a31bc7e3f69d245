import { describe, expect, it } from "vitest";
import { replay } from "../../src/adapters/ratelimit/redis.ts";
import { gcraParameters } from "../../src/adapters/ratelimit/types.ts";

/**
 * The Redis limiter answers each request of a batch from the script's reply (`now`, where the batch started, where it
 * ended) by replaying the steps with `gcraStep`. A reply it cannot read, or one that does not end where the replayed
 * steps do, fails the batch (and the resilient wrapper falls back) instead of answering made-up decisions.
 */
describe("the Redis limiter's replay of a batch", () => {
  it("refuses a reply that does not end where the steps do, or is not three numbers", () => {
    const params = gcraParameters({ name: "p", limit: 10, windowSeconds: 60 }, 1);
    const now = 1_760_000_000_000_000;
    expect(() => replay(params, [{ increment: params.increment }], [now, now, now])).toThrow(/disagree/);
    expect(() => replay(params, [{ increment: params.increment }], "OK")).toThrow(/unexpected reply/);
  });

  it("decides each request of a batch in turn from where the batch started", () => {
    const params = gcraParameters({ name: "p", limit: 2, windowSeconds: 60 }, 1);
    const now = 1_760_000_000_000_000;
    const batch = [1, 2, 3].map(() => ({ increment: params.increment }));
    // An idle subject with a burst of 2: the first two are allowed, the third is refused.
    const { decisions } = replay(params, batch, [now, now, now + 2 * params.increment]);
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, false]);
    expect(decisions.map((d) => d.remaining)).toEqual([1, 0, 0]);
    expect(decisions[2]?.retryAfterMicros).toBeGreaterThan(0);
    expect(decisions.every((d) => d.backend === "redis")).toBe(true);
  });

  it("counts the reserve asked for after the batch as far as it fitted, and checks it against Redis's end", () => {
    const params = gcraParameters({ name: "p", limit: 5, windowSeconds: 60 }, 1);
    const now = 1_760_000_000_000_000;
    const batch = [1, 2].map(() => ({ increment: params.increment }));
    // Two requests and a reserve of 10 asked for: only 3 more fit in a burst of 5.
    const replayed = replay(params, batch, [now, now, now + 5 * params.interval], 10);
    expect(replayed.decisions.map((d) => d.remaining)).toEqual([4, 3]);
    expect(replayed.reservedMicros).toBe(3 * params.interval);
    expect(replayed.tat).toBe(now + 5 * params.interval);
    // Redis saying it reserved all 10 (or none) is a disagreement, not a reserve to trust.
    expect(() => replay(params, batch, [now, now, now + 2 * params.interval], 10)).toThrow(/disagree/);
  });
});
