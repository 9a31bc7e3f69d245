import type { Context } from "hono";
import type { RateLimitPolicy } from "../adapters/ratelimit/types.ts";
import type { Config } from "../config.ts";
import type { Services } from "../services.ts";
import type { AppEnv } from "./context.ts";
import { ApiError } from "./problem.ts";
import { consumeRateLimit, requestAddress } from "./rate-limit.ts";

export function authFailurePolicy(config: Config): RateLimitPolicy {
  return { name: "auth-failures", limit: config.AUTH_FAILURE_LIMIT_PER_MINUTE, windowSeconds: 60 };
}

/** Addresses kept at most; beyond it, those whose block has ended are dropped first. */
const maxBlockedAddresses = 10_000;

/**
 * The throttle on failed authentication. Every failure (an unknown, revoked or expired key) counts against its
 * client address in the shared rate limiter (`authfail:<address>`, AUTH_FAILURE_LIMIT_PER_MINUTE); the failure that
 * goes over gets 429, and from then until the window allows again this process looks no key up for that address:
 * a key not in the verification cache gets the 429 at once, without a query. So a client cycling through made-up
 * keys (each a database lookup, since none is cached) costs the database at most its budget per minute, not one
 * query per request. Keys verified a moment ago (cached) still work from that address.
 */
export class AuthFailureThrottle {
  private readonly blockedUntil = new Map<string, number>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Throws the 429 while `address` is blocked: called before a key is looked up for it. */
  refuseIfBlocked(address: string): void {
    const until = this.blockedUntil.get(address);
    if (until === undefined) return;
    const leftMs = until - this.now();
    if (leftMs <= 0) {
      this.blockedUntil.delete(address);
      return;
    }
    const retryAfter = Math.max(1, Math.ceil(leftMs / 1000));
    throw new ApiError(
      "quota_exceeded",
      `This address has failed authentication too often (unknown, revoked or expired API keys). Retry in ${retryAfter} s.`,
      { retry_after_seconds: retryAfter },
      { "retry-after": String(retryAfter) },
    );
  }

  /** Counts one failed authentication of the request's address; throws the 429 once the address is over. */
  async recordFailure(c: Context<AppEnv>): Promise<void> {
    const address = requestAddress(c);
    try {
      await consumeRateLimit(c, `authfail:${address}`, authFailurePolicy(c.get("services").config));
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

// One throttle per services bag (an app and its tests' apps each have their own), created on first use.
const throttles = new WeakMap<Services, AuthFailureThrottle>();

export function authFailureThrottle(services: Services): AuthFailureThrottle {
  let throttle = throttles.get(services);
  if (!throttle) {
    throttle = new AuthFailureThrottle();
    throttles.set(services, throttle);
  }
  return throttle;
}
