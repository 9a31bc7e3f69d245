import type { RateLimitPolicy } from "../adapters/ratelimit/types.ts";
import type { Config } from "../config.ts";
import type { Services } from "../services.ts";
import { type FailureKind, type FailureThrottle, failureThrottle } from "./failure-throttle.ts";

export function authFailurePolicy(config: Config): RateLimitPolicy {
  return { name: "auth-failures", limit: config.AUTH_FAILURE_LIMIT_PER_MINUTE, windowSeconds: 60 };
}

/**
 * Failed authentication: an unknown, revoked or expired key, each a database lookup (no such key is cached), counts
 * against the client address (`authfail:<address>`, AUTH_FAILURE_LIMIT_PER_MINUTE). Past it, a key not in the
 * verification cache gets the 429 at once, without a query; keys verified a moment ago (cached) still work from
 * that address. Malformed keys are refused before any lookup and do not count.
 */
const authFailures: FailureKind = {
  subject: "authfail",
  policy: authFailurePolicy,
  tooOften: "This address has failed authentication too often (unknown, revoked or expired API keys).",
};

export function authFailureThrottle(services: Services): FailureThrottle {
  return failureThrottle(services, authFailures);
}
