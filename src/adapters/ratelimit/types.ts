/**
 * One rate limiter interface, two implementations (Redis and in-memory) that run the same algorithm: GCRA, the
 * generic cell rate algorithm. GCRA keeps one number per subject (the "theoretical arrival time") and admits a
 * request when that time, moved forward by the request's cost, stays within the window from now. It allows a full
 * burst of `limit` requests, then exactly one more per `window / limit`: there is no fixed-window boundary where
 * twice the limit could slip through.
 */
export interface RateLimitPolicy {
  /** The policy's name as the RateLimit headers show it ("default", a plan name, "tracking"). */
  name: string;
  /** Requests admitted per window (the quota). */
  limit: number;
  windowSeconds: number;
}

export interface RateLimitDecision {
  allowed: boolean;
  /** Requests still admitted right now (after this one, when it was allowed). */
  remaining: number;
  /** Microseconds until the whole quota is available again. */
  resetMicros: number;
  /** Microseconds until one more request would be admitted (0 when allowed). */
  retryAfterMicros: number;
  /** Which store decided: "memory" from a Redis limiter means its fallback did (Redis unreachable). */
  backend: RateLimiterKind;
}

export type RateLimiterKind = "redis" | "memory";

export interface RateLimiterHealth {
  /** false only when requests are being refused because no limiter can decide (fail-closed outage). */
  ok: boolean;
  /** Which implementation decides right now, and why, for logs and /readyz. */
  detail: string;
  /** The limiter that decides right now. */
  active: RateLimiterKind;
  degraded: boolean;
}

export interface RateLimiter {
  readonly kind: RateLimiterKind;
  /**
   * Counts `cost` requests (default 1) of `subject` against `policy` and says whether they are admitted. A denied
   * request consumes nothing. The subject alone names the bucket (`key:<id>`, `ip:<address>`): a changed limit
   * applies to the same bucket. Throws `RateLimiterUnavailableError` when no decision can be made.
   */
  consume(subject: string, policy: RateLimitPolicy, cost?: number): Promise<RateLimitDecision>;
  /**
   * The decision at once, counted as `consume` counts it, when this limiter can make it without waiting for
   * anything (the in-memory limiter always; the Redis one for a request its key's reserve admits); else
   * undefined, and the request is not counted: call `consume`. Throws what `consume` would reject with.
   */
  decideNow?(subject: string, policy: RateLimitPolicy, cost?: number): RateLimitDecision | undefined;
  health(): RateLimiterHealth;
  close(): Promise<void>;
}

/** No limiter could decide (Redis down and the fail-closed setting on): the request is answered 503. */
export class RateLimiterUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RateLimiterUnavailableError";
  }
}

/** GCRA parameters in whole microseconds, so Redis (Lua doubles) and JavaScript compute the very same numbers. */
export function gcraParameters(
  policy: RateLimitPolicy,
  cost: number,
): { interval: number; burst: number; increment: number } {
  if (!Number.isInteger(policy.limit) || policy.limit < 1)
    throw new RangeError("limit must be a positive integer");
  if (!(policy.windowSeconds > 0)) throw new RangeError("windowSeconds must be positive");
  if (!Number.isInteger(cost) || cost < 1) throw new RangeError("cost must be a positive integer");
  // Rounding the emission interval up (at most 1 µs per request) keeps everything integral; the burst is defined
  // as `limit` intervals, so exactly `limit` requests fit in an empty bucket whatever the rounding.
  const interval = Math.ceil((policy.windowSeconds * 1_000_000) / policy.limit);
  return { interval, burst: interval * policy.limit, increment: interval * cost };
}

/** A GCRA step's decision, as the limiter named `backend` answers it. */
export function decisionOf(
  step: Omit<RateLimitDecision, "backend">,
  backend: RateLimiterKind,
): RateLimitDecision {
  return {
    allowed: step.allowed,
    remaining: step.remaining,
    resetMicros: step.resetMicros,
    retryAfterMicros: step.retryAfterMicros,
    backend,
  };
}

/** What a limiter stores per subject: the theoretical arrival time and the emission interval it was computed with. */
export interface GcraState {
  tat: number;
  interval: number;
}

/**
 * One GCRA step, shared by the in-memory limiter and mirrored line by line by the Redis script. All values are
 * whole microseconds. When the subject's limit changed since the stored state (a plan change), the outstanding
 * debt is carried over as a number of requests, so what was used stays used under the new limit: an upgrade
 * admits the difference at once, a downgrade does not hand out a fresh quota.
 */
export function gcraStep(
  now: number,
  stored: GcraState | null,
  params: { interval: number; burst: number; increment: number },
): Omit<RateLimitDecision, "backend"> & { state: GcraState } {
  let tat = now;
  if (stored && stored.tat > now) {
    tat =
      stored.interval === params.interval
        ? stored.tat
        : now + Math.ceil(((stored.tat - now) * params.interval) / stored.interval);
  }
  const newTat = tat + params.increment;
  const allowAt = newTat - params.burst;
  if (allowAt > now) {
    return {
      allowed: false,
      remaining: Math.max(0, Math.floor((now + params.burst - tat) / params.interval)),
      resetMicros: tat - now,
      retryAfterMicros: allowAt - now,
      state: { tat, interval: params.interval },
    };
  }
  return {
    allowed: true,
    remaining: Math.floor((now + params.burst - newTat) / params.interval),
    resetMicros: newTat - now,
    retryAfterMicros: 0,
    state: { tat: newTat, interval: params.interval },
  };
}
