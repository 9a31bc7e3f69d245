import type { Logger } from "pino";
import type { MemoryRateLimiter } from "./memory.ts";
import type { RedisRateLimiter } from "./redis.ts";
import {
  type RateLimitDecision,
  type RateLimiter,
  type RateLimiterHealth,
  RateLimiterUnavailableError,
  type RateLimitPolicy,
} from "./types.ts";

export interface ResilientRateLimiterOptions {
  /** true: refuse (503) while Redis is unreachable; false: decide in memory, per instance, until it is back. */
  failClosed: boolean;
  logger: Logger;
}

/**
 * Redis decides while it answers; when it does not, this instance keeps serving with its in-memory limiter (or
 * refuses, when configured to fail closed). No probing schedule is needed: the Redis client reconnects by itself
 * and the first decision after it is back goes to Redis again.
 */
export class ResilientRateLimiter implements RateLimiter {
  readonly kind = "redis" as const;
  private degradedSince: Date | null = null;
  private lastError = "";

  constructor(
    private readonly primary: RedisRateLimiter,
    private readonly fallback: MemoryRateLimiter,
    private readonly options: ResilientRateLimiterOptions,
  ) {}

  async consume(subject: string, policy: RateLimitPolicy, cost = 1): Promise<RateLimitDecision> {
    if (this.primary.available) {
      try {
        const decision = await this.primary.consume(subject, policy, cost);
        if (this.degradedSince) {
          this.options.logger.info(
            { outage_ms: Date.now() - this.degradedSince.getTime() },
            "rate limiter: redis is back, deciding there again",
          );
          this.degradedSince = null;
        }
        return decision;
      } catch (error) {
        this.markDegraded((error as Error).message);
      }
    } else {
      this.markDegraded("not connected");
    }
    if (this.options.failClosed) {
      throw new RateLimiterUnavailableError(`redis rate limiter unreachable (${this.lastError})`);
    }
    return this.fallback.consumeNow(subject, policy, cost);
  }

  private markDegraded(reason: string): void {
    this.lastError = reason;
    if (this.degradedSince) return;
    this.degradedSince = new Date();
    this.options.logger.warn(
      { reason, fail_closed: this.options.failClosed },
      this.options.failClosed
        ? "rate limiter: redis unreachable, refusing keyed requests (503) until it is back"
        : "rate limiter: redis unreachable, falling back to the in-memory limiter (per instance)",
    );
  }

  health(): RateLimiterHealth {
    // The connection state is fresher than our last decision: report recovery (or an outage) without traffic.
    if (this.primary.available && !this.degradedSince) return this.primary.health();
    if (this.primary.available) {
      return { ok: true, detail: "redis (reconnected)", active: "redis", degraded: false };
    }
    const since = this.degradedSince ? ` since ${this.degradedSince.toISOString()}` : "";
    const reason = this.lastError || this.primary.health().detail;
    return this.options.failClosed
      ? {
          ok: false,
          detail: `redis unreachable${since} (${reason}): refusing keyed requests (fail closed)`,
          active: "redis",
          degraded: true,
        }
      : {
          ok: true,
          detail: `redis unreachable${since} (${reason}): using the in-memory fallback (per instance)`,
          active: "memory",
          degraded: true,
        };
  }

  async close(): Promise<void> {
    await Promise.all([this.primary.close(), this.fallback.close()]);
  }
}
