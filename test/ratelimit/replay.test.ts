import { describe, expect, it } from "vitest";
import { replay } from "../../src/adapters/ratelimit/redis.ts";
import { type GcraState, gcraParameters, gcraStep } from "../../src/adapters/ratelimit/types.ts";

/** A small deterministic generator, so a failure names a case that can be run again. */
function generator(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
}

/**
 * The Redis limiter answers each request of a batch from the script's reply (`now`, where the batch started, where it
 * ended) with its own replay of the steps. It must decide exactly as `gcraStep`, the in-memory limiter's step that
 * the script mirrors, would have one request after the other.
 */
describe("the Redis limiter's replay of a batch", () => {
  it("replays a batch exactly as gcraStep decides it", () => {
    const random = generator(20261206);
    for (let trial = 0; trial < 2000; trial++) {
      const limit = 1 + Math.floor(random() * 50);
      const windowSeconds = [1, 60, 3600][Math.floor(random() * 3)] as number;
      const base = gcraParameters({ name: "p", limit, windowSeconds }, 1);
      const now = 1_760_000_000_000_000 + Math.floor(random() * 1e9);
      // Where the batch starts: anywhere from an idle subject (now) to past a full burst of debt.
      const start = now + Math.floor(random() * (base.burst + 3 * base.interval));
      const batch = Array.from({ length: 1 + Math.floor(random() * 40) }, () => ({
        increment: gcraParameters({ name: "p", limit, windowSeconds }, 1 + Math.floor(random() * 4))
          .increment,
      }));
      let state: GcraState = { tat: start, interval: base.interval };
      const expected = batch.map(({ increment }) => {
        const step = gcraStep(now, state, { interval: base.interval, burst: base.burst, increment });
        state = step.state;
        return {
          allowed: step.allowed,
          remaining: step.remaining,
          resetMicros: step.resetMicros,
          retryAfterMicros: step.retryAfterMicros,
          backend: "redis",
        };
      });
      expect(replay(base, batch, [now, start, state.tat])).toEqual(expected);
    }
  });

  it("refuses a reply that does not end where the steps do", () => {
    const params = gcraParameters({ name: "p", limit: 10, windowSeconds: 60 }, 1);
    const now = 1_760_000_000_000_000;
    expect(() => replay(params, [{ increment: params.increment }], [now, now, now])).toThrow(/disagree/);
    expect(() => replay(params, [{ increment: params.increment }], "OK")).toThrow(/unexpected reply/);
  });
});
