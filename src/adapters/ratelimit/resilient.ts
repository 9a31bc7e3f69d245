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
  /** While degraded on a connection that looks up, how often one request may try Redis again (default 1 s). */
  probeIntervalMs?: number;
}

/**
 * Redis decides while it answers; when it does not, this instance keeps serving with its in-memory limiter (or
 * refuses, when configured to fail closed). Recovery needs no operator: the Redis client reconnects by itself and
 * its "ready" ends the outage; a Redis that stayed connected but stopped answering in time (commands timing out)
 * is retried by one request per probe interval, so a hung server costs at most one slow request a second.
 */
export class ResilientRateLimiter implements RateLimiter {
  readonly kind = "redis" as const;
  private degradedSince: Date | null = null;
  private lastError = "";
  private lastProbe = 0;
  private readonly probeIntervalMs: number;

  constructor(
    private readonly primary: RedisRateLimiter,
    private readonly fallback: MemoryRateLimiter,
    private readonly options: ResilientRateLimiterOptions,
  ) {
    this.probeIntervalMs = options.probeIntervalMs ?? 1000;
    primary.onReady(() => this.recover("connection re-established"));
  }

  // One promise per decision: Redis's answer comes back through `enqueue`'s callback and settles it directly,
  // instead of through the Redis limiter's own promise and a second one chained to it (every keyed request passes
  // here).
  consume(subject: string, policy: RateLimitPolicy, cost = 1): Promise<RateLimitDecision> {
    if (!this.primary.available) {
      this.markDegraded("not connected");
    } else if (!this.degradedSince || Date.now() - this.lastProbe >= this.probeIntervalMs) {
      if (this.degradedSince) this.lastProbe = Date.now();
      return new Promise<RateLimitDecision>((resolve) => {
        const done = (error: unknown, decision?: RateLimitDecision) => {
          if (decision) {
            this.recover("a decision succeeded");
            resolve(decision);
            return;
          }
          this.lastProbe = Date.now();
          this.markDegraded((error as Error).message);
          resolve(this.withoutRedis(subject, policy, cost));
        };
        try {
          this.primary.enqueue(subject, policy, cost, done);
        } catch (error) {
          // A policy Redis cannot apply goes the way a failed call does, as it always has (the fallback refuses it
          // too, with the same error).
          done(error);
        }
      });
    }
    return this.withoutRedis(subject, policy, cost);
  }

  /**
   * Redis's reserve decides at once while Redis is healthy (`RedisRateLimiter.decideNow`); anything else (an outage,
   * a probe, a request the reserve cannot admit) goes through `consume`.
   */
  decideNow(subject: string, policy: RateLimitPolicy, cost = 1): RateLimitDecision | undefined {
    if (!this.primary.available || this.degradedSince) return undefined;
    return this.primary.decideNow(subject, policy, cost);
  }

  /** The decision while Redis cannot make it: refused (fail closed) or made in memory by this instance. */
  private withoutRedis(subject: string, policy: RateLimitPolicy, cost: number): Promise<RateLimitDecision> {
    if (this.options.failClosed) {
      return Promise.reject(
        new RateLimiterUnavailableError(`redis rate limiter unreachable (${this.lastError})`),
      );
    }
    // Decided at once, answered with the rest of the turn's decisions (see MemoryRateLimiter.consume).
    return this.fallback.consume(subject, policy, cost);
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

  private recover(how: string): void {
    if (!this.degradedSince) return;
    this.options.logger.info(
      { outage_ms: Date.now() - this.degradedSince.getTime(), how },
      "rate limiter: redis is back, deciding there again",
    );
    this.degradedSince = null;
    this.lastError = "";
  }

  health(): RateLimiterHealth {
    if (!this.degradedSince && this.primary.available) return this.primary.health();
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
