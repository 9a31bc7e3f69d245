import { EndOfTurn } from "../../end-of-turn.ts";
import {
  decisionOf,
  type GcraState,
  gcraParameters,
  gcraStep,
  type RateLimitDecision,
  type RateLimiter,
  type RateLimitPolicy,
} from "./types.ts";

export interface MemoryRateLimiterOptions {
  /** Current time in microseconds; defaults to the high-resolution wall clock. */
  nowMicros?: () => number;
  /** Subjects kept at most; the oldest are dropped first (they are the likeliest to be full again anyway). */
  maxSubjects?: number;
}

export function wallClockMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

/**
 * GCRA in process memory. Exact for one instance; with several instances each counts alone, which is why it is
 * the default only without Redis, and the fallback while Redis is unreachable.
 */
export class MemoryRateLimiter implements RateLimiter {
  readonly kind = "memory" as const;
  private readonly states = new Map<string, GcraState>();
  private readonly nowMicros: () => number;
  private readonly maxSubjects: number;
  private readonly sweeper: ReturnType<typeof setInterval>;

  constructor(options: MemoryRateLimiterOptions = {}) {
    this.nowMicros = options.nowMicros ?? wallClockMicros;
    this.maxSubjects = options.maxSubjects ?? 100_000;
    // A subject whose arrival time has passed holds a full quota: forgetting it changes nothing.
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref?.();
  }

  /** Where decisions wait for the end of their event-loop turn (see `consume`). */
  private readonly turn = new EndOfTurn();

  /**
   * Decides at once (the state is updated before this returns, so decisions keep their order) but answers at the end
   * of the event-loop turn, together with every other decision of that turn (see EndOfTurn).
   */
  consume(subject: string, policy: RateLimitPolicy, cost = 1): Promise<RateLimitDecision> {
    // Decided in the executor, which runs before the constructor returns: a policy it cannot apply throws there and
    // comes back as the promise's rejection (as the Redis limiter's does), with no try of our own around it.
    return new Promise((resolve) => {
      const decision = this.consumeNow(subject, policy, cost);
      this.turn.add(() => resolve(decision));
    });
  }

  /** Always decides at once (`consumeNow`). */
  decideNow(subject: string, policy: RateLimitPolicy, cost = 1): RateLimitDecision {
    return this.consumeNow(subject, policy, cost);
  }

  /** The decision, made and recorded synchronously (no yield between reading and writing the subject's state). */
  consumeNow(subject: string, policy: RateLimitPolicy, cost = 1): RateLimitDecision {
    const now = this.nowMicros();
    const step = gcraStep(now, this.states.get(subject) ?? null, gcraParameters(policy, cost));
    if (step.allowed) {
      // Re-insert so the map's order stays "least recently written first" for eviction.
      this.states.delete(subject);
      this.states.set(subject, step.state);
      if (this.states.size > this.maxSubjects) {
        const oldest = this.states.keys().next().value;
        if (oldest !== undefined) this.states.delete(oldest);
      }
    }
    return decisionOf(step, "memory");
  }

  private sweep(): void {
    const now = this.nowMicros();
    for (const [key, state] of this.states) if (state.tat <= now) this.states.delete(key);
  }

  health() {
    return { ok: true, detail: "in-memory (per instance)", active: "memory" as const, degraded: false };
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.states.clear();
  }
}
