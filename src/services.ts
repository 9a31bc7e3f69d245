import type { Logger } from "pino";
import type { Db } from "./adapters/db/types.ts";
import type { RateLimiter } from "./adapters/ratelimit/types.ts";
import type { WebhookSender } from "./adapters/sender/types.ts";
import type { Config } from "./config.ts";
import type { KeyVerifier } from "./domain/keys/verifier.ts";
import type { Metrics } from "./observability/metrics.ts";

/** A source of time, injected so tests can move it. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/**
 * Everything a handler or a domain function may use, built once per process (or per test) and passed down:
 * no module keeps a singleton, so a test can build a whole app against its own database.
 */
export interface Services {
  config: Config;
  db: Db;
  logger: Logger;
  clock: Clock;
  /** Prometheus metrics of this app (its own registry; see src/observability/metrics.ts for the hooks). */
  metrics: Metrics;
  /** Decides every keyed request and the public tracking endpoint's per-address limit (Redis or memory). */
  rateLimiter: RateLimiter;
  /** Verifies API keys with a short cache invalidated across instances, and batches `last_used_at`. */
  keyVerifier: KeyVerifier;
  /** Sends webhook attempts (HTTP with the SSRF guard on every connection; a recording twin in unit tests). */
  webhookSender: WebhookSender;
}
