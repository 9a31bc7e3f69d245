import type { Context } from "hono";
import type { RateLimitPolicy } from "../adapters/ratelimit/types.ts";
import type { Config } from "../config.ts";
import type { Services } from "../services.ts";
import type { AppEnv } from "./context.ts";
import { ApiError } from "./problem.ts";
import { consumeRateLimit, rateLimitHeaders, requestAddress } from "./rate-limit.ts";

/** What a throttle counts: failures that each cost an uncached database lookup. */
export interface FailureKind {
  /** The limiter's bucket of an address is `<subject>:<address>` (`quotaSentence` words the 429 by it). */
  subject: string;
  /** The per-address budget; a limit of 0 turns the throttle off (nothing counted, nobody blocked). */
  policy: (config: Config) => RateLimitPolicy;
  /** The blocked address's 429 detail, before "Retry in N s.": what it did too often. */
  tooOften: string;
}

/** Addresses kept at most; beyond it, those whose block has ended are dropped first. */
const maxBlockedAddresses = 10_000;

/**
 * A throttle on lookups that find nothing. Every failure counts against its client address in the shared rate
 * limiter (`<subject>:<address>`, the kind's budget per minute); the failure that goes over gets 429, and from then
 * until the window allows again this process refuses that address's lookups at once, without a query, wherever
 * the caller asks (`refuseIfBlocked`). So a client cycling through made-up names (each a database lookup, since
 * none is cached) costs the database at most its budget per minute, not one query per request. The caller decides
 * what is exempt: the auth throttle is asked only on a key-cache miss, the inbound one only for connector ids not
 * seen to exist a moment ago, so what an address used successfully keeps working.
 */
export class FailureThrottle {
  private readonly blockedUntil = new Map<string, number>();

  constructor(
    private readonly kind: FailureKind,
    private readonly config: Config,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Throws the 429 while `address` is blocked: called before a lookup is made for it. */
  refuseIfBlocked(address: string): void {
    if (this.blockedUntil.size === 0) return;
    const until = this.blockedUntil.get(address);
    if (until === undefined) return;
    const leftMs = until - this.now();
    if (leftMs <= 0) {
      this.blockedUntil.delete(address);
      return;
    }
    const retryAfter = Math.max(1, Math.ceil(leftMs / 1000));
    const policy = this.kind.policy(this.config);
    // The same body and headers as the 429 of the failure that went over, so a client reads both alike.
    const headers = rateLimitHeaders(policy, {
      allowed: false,
      remaining: 0,
      resetMicros: leftMs * 1000,
      retryAfterMicros: leftMs * 1000,
      backend: "memory",
    });
    throw new ApiError(
      "quota_exceeded",
      `${this.kind.tooOften} Retry in ${retryAfter} s.`,
      { limit: policy.limit, window_seconds: policy.windowSeconds, retry_after_seconds: retryAfter },
      { ...headers, "retry-after": String(retryAfter) },
    );
  }

  /** Counts one failure of the request's address; throws the 429 once the address is over its budget. */
  async recordFailure(c: Context<AppEnv>): Promise<void> {
    const policy = this.kind.policy(this.config);
    if (policy.limit === 0) return;
    const address = requestAddress(c);
    try {
      await consumeRateLimit(c, `${this.kind.subject}:${address}`, policy);
    } catch (error) {
      if (error instanceof ApiError && error.code === "quota_exceeded") {
        this.block(address, Number(error.extra.retry_after_seconds ?? 1));
      }
      throw error;
    }
  }

  private block(address: string, seconds: number): void {
    if (this.blockedUntil.size >= maxBlockedAddresses) {
      const now = this.now();
      for (const [blocked, until] of this.blockedUntil) if (until <= now) this.blockedUntil.delete(blocked);
      if (this.blockedUntil.size >= maxBlockedAddresses) {
        // Still full of live blocks: drop the oldest entry (insertion order), never grow without bound.
        const oldest = this.blockedUntil.keys().next().value;
        if (oldest !== undefined) this.blockedUntil.delete(oldest);
      }
    }
    this.blockedUntil.delete(address);
    this.blockedUntil.set(address, this.now() + seconds * 1000);
  }
}

// One throttle per services bag and kind (an app and its tests' apps each have their own), created on first use.
const throttles = new WeakMap<Services, Map<FailureKind, FailureThrottle>>();

export function failureThrottle(services: Services, kind: FailureKind): FailureThrottle {
  let byKind = throttles.get(services);
  if (!byKind) {
    byKind = new Map();
    throttles.set(services, byKind);
  }
  let throttle = byKind.get(kind);
  if (!throttle) {
    throttle = new FailureThrottle(kind, services.config);
    byKind.set(kind, throttle);
  }
  return throttle;
}
