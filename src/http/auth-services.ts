import type { Logger } from "pino";
import type { Db } from "../adapters/db/types.ts";
import { createRateLimiter } from "../adapters/ratelimit/index.ts";
import type { RateLimiter } from "../adapters/ratelimit/types.ts";
import type { Config } from "../config.ts";
import { KeyVerifier } from "../domain/keys/verifier.ts";
import type { Clock } from "../services.ts";

export interface AuthServices {
  rateLimiter: RateLimiter;
  keyVerifier: KeyVerifier;
  /** Stops timers and subscriptions, writes pending `last_used_at`, disconnects Redis. Call before closing the db. */
  close(): Promise<void>;
}

/**
 * Builds the rate limiter and the key verifier from the configuration, and waits (briefly) for Redis and for the
 * change subscription, so the first requests are decided where they should be. The server, the CLI and the test
 * harness all build them here.
 */
export async function buildAuthServices(
  config: Config,
  deps: { db: Db; logger: Logger; clock: Clock },
): Promise<AuthServices> {
  const { limiter, ready } = createRateLimiter(config, deps.logger);
  const keyVerifier = new KeyVerifier({
    db: deps.db,
    clock: deps.clock,
    logger: deps.logger,
    ttlMs: config.KEY_CACHE_TTL_SECONDS * 1000,
    pollMs: config.KEY_CHANGES_POLL_MS,
    usageFlushMs: config.KEY_USAGE_FLUSH_SECONDS * 1000,
  });
  const [redisReady] = await Promise.all([ready(), keyVerifier.start()]);
  if (!redisReady) {
    deps.logger.warn("rate limiter: redis not reachable at start; deciding in memory until it is");
  }
  return {
    rateLimiter: limiter,
    keyVerifier,
    async close() {
      await keyVerifier.close();
      await limiter.close();
    },
  };
}
