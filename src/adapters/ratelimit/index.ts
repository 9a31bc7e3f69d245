import type { Logger } from "pino";
import type { Config } from "../../config.ts";
import { MemoryRateLimiter, type MemoryRateLimiterOptions } from "./memory.ts";
import { RedisRateLimiter } from "./redis.ts";
import { ResilientRateLimiter } from "./resilient.ts";
import type { RateLimiter } from "./types.ts";

export type { RateLimitDecision, RateLimiter, RateLimiterHealth, RateLimitPolicy } from "./types.ts";
export { RateLimiterUnavailableError } from "./types.ts";

/**
 * Redis (with an in-memory fallback) when `REDIS_URL` is set, memory otherwise. Call `ready` before serving, so
 * the first requests do not log a spurious outage while the connection opens.
 */
export function createRateLimiter(
  config: Pick<
    Config,
    "REDIS_URL" | "RATE_LIMIT_REDIS_PREFIX" | "REDIS_COMMAND_TIMEOUT_MS" | "RATE_LIMIT_FAIL_CLOSED"
  >,
  logger: Logger,
  memoryOptions: MemoryRateLimiterOptions = {},
): { limiter: RateLimiter; ready(timeoutMs?: number): Promise<boolean> } {
  const memory = new MemoryRateLimiter(memoryOptions);
  if (!config.REDIS_URL) return { limiter: memory, ready: async () => true };
  let lastLogged = 0;
  const redis = new RedisRateLimiter({
    url: config.REDIS_URL,
    prefix: config.RATE_LIMIT_REDIS_PREFIX,
    commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
    onConnectionError: (error) => {
      // ioredis reports every reconnect attempt; once a minute is enough to see an outage in the logs.
      if (Date.now() - lastLogged < 60_000) return;
      lastLogged = Date.now();
      logger.warn({ err: error }, "rate limiter: redis connection error");
    },
  });
  const limiter = new ResilientRateLimiter(redis, memory, {
    failClosed: config.RATE_LIMIT_FAIL_CLOSED,
    logger,
  });
  return { limiter, ready: (timeoutMs = 2000) => redis.waitUntilReady(timeoutMs) };
}
