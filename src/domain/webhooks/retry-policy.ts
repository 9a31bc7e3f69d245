import type { SendResult } from "../../adapters/sender/types.ts";

/**
 * When to try a failed delivery again. The schedule is a list of delays, one per retry, measured from the failed
 * attempt; each is spread by a random jitter so that a receiver coming back from an outage is not hit by every
 * queued delivery in the same second.
 */
export interface RetryPolicy {
  /** Delay before retry 1, 2, ... (after attempt 1, 2, ...). Attempt 1 is immediate. */
  scheduleMs: readonly number[];
  /** Each delay is multiplied by a random factor in [1 - jitter, 1 + jitter]. 0 disables jitter. */
  jitter: number;
  /** A subscription whose attempts have all failed for this long is disabled. */
  disableAfterMs: number;
  /** `Retry-After` is honoured up to this long, so a receiver cannot park a delivery for ever. */
  maxRetryAfterMs: number;
}

/** Standard Webhooks / Svix-style defaults: immediately, then 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 3 h, 6 h, 12 h, 24 h. */
export const defaultRetryScheduleMs: readonly number[] = [
  5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000,
];

/** The longest a delivery waiting for its signing secret's key waits between two tries (see `secretWaitBounds`). */
export const secretWaitCapMs = 3_600_000;

/**
 * How long a delivery whose signing secret cannot be opened (its key is missing from the configuration) waits before
 * it is tried again. Such an attempt sends nothing and does not count (see attemptDelivery): the delivery waits for
 * the key rather than using up its schedule. The outcome write waits as long as the subscription has been waiting
 * (`webhook_subscriptions.secret_unopened_since`, migration 0012), at least `minMs` (the schedule's first delay, so
 * a passing mistake costs little) and at most `maxMs` (an hour, or the schedule's longest delay if shorter): once
 * the key is back, the waiting deliveries go out within the time the key was missing, and never more than an hour
 * later, while a long outage costs about one try per delivery per hour. No jitter: every delivery of a subscription
 * gets the same increasing function of its attempt time, so they stay in the order they were queued.
 */
export function secretWaitBounds(policy: Pick<RetryPolicy, "scheduleMs">): { minMs: number; maxMs: number } {
  const minMs = policy.scheduleMs[0] ?? 5_000;
  const longest = policy.scheduleMs.length > 0 ? Math.max(...policy.scheduleMs) : secretWaitCapMs;
  return { minMs, maxMs: Math.max(minMs, Math.min(secretWaitCapMs, longest)) };
}

/** The delay before the next attempt after `attemptsMade` attempts, or null when the schedule is used up. */
export function retryDelayMs(
  policy: RetryPolicy,
  attemptsMade: number,
  random: () => number = Math.random,
): number | null {
  const base = policy.scheduleMs[attemptsMade - 1];
  if (base === undefined) return null;
  if (policy.jitter <= 0) return base;
  return Math.max(0, Math.round(base * (1 + policy.jitter * (2 * random() - 1))));
}

/** `Retry-After` in milliseconds from `now`: delta-seconds or an HTTP-date (RFC 9110 §10.2.3); null if neither. */
export function parseRetryAfter(value: string | null | undefined, now: Date): number | null {
  if (!value) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1_000;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - now.getTime());
}

export interface AttemptDecision {
  outcome: "succeeded" | "failed";
  /** The delivery after this attempt: done, waiting for a retry, or failed for good. */
  deliveryStatus: "succeeded" | "pending" | "failed";
  nextAttemptAt: Date | null;
  /** A 410 Gone tells us the endpoint no longer exists: stop sending to it. */
  disableSubscription: "endpoint_gone" | null;
  /** Human-readable reason of a failure, for the log. */
  error: string | null;
}

/**
 * Success is a 2xx and nothing else: a redirect, a 4xx, a 5xx, a timeout or a connection error is a failure that is
 * retried on schedule, except 410, which ends the delivery and disables the subscription. On 429 and 503 the
 * receiver's `Retry-After` is honoured when it asks for more time than the schedule gives.
 */
export function decideAttempt(
  delivery: { attempts: number; maxAttempts: number | null },
  result: SendResult,
  now: Date,
  policy: RetryPolicy,
  random: () => number = Math.random,
): AttemptDecision {
  if (result.kind === "response" && result.status >= 200 && result.status < 300) {
    return {
      outcome: "succeeded",
      deliveryStatus: "succeeded",
      nextAttemptAt: null,
      disableSubscription: null,
      error: null,
    };
  }
  const error =
    result.kind === "error" ? result.error : `The endpoint answered HTTP ${result.status}, not a 2xx.`;
  if (result.kind === "response" && result.status === 410) {
    return {
      outcome: "failed",
      deliveryStatus: "failed",
      nextAttemptAt: null,
      disableSubscription: "endpoint_gone",
      error: "The endpoint answered 410 Gone: the subscription was disabled.",
    };
  }
  const outOfAttempts = delivery.maxAttempts !== null && delivery.attempts >= delivery.maxAttempts;
  const delay = outOfAttempts ? null : retryDelayMs(policy, delivery.attempts, random);
  if (delay === null) {
    return {
      outcome: "failed",
      deliveryStatus: "failed",
      nextAttemptAt: null,
      disableSubscription: null,
      error,
    };
  }
  let wait = delay;
  if (result.kind === "response" && (result.status === 429 || result.status === 503)) {
    const asked = parseRetryAfter(result.retryAfter, now);
    if (asked !== null) wait = Math.max(wait, Math.min(asked, policy.maxRetryAfterMs));
  }
  return {
    outcome: "failed",
    deliveryStatus: "pending",
    nextAttemptAt: new Date(now.getTime() + wait),
    disableSubscription: null,
    error,
  };
}
