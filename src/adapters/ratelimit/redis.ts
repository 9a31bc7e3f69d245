import { createHash } from "node:crypto";
import { Redis } from "ioredis";
import { gcraParameters, type RateLimitDecision, type RateLimiter, type RateLimitPolicy } from "./types.ts";

/**
 * The GCRA step of `gcraStep` (types.ts), line for line, run atomically inside Redis: one round trip per decision,
 * and no two instances can interleave between the read and the write. Time is Redis's own `TIME`, so instances
 * with skewed clocks still share one timeline. All arithmetic is in whole microseconds (exact in Lua's doubles up
 * to 2^53 µs, i.e. far beyond our lifetime); the stored value (`<tat>:<interval>`) is formatted with %.0f because
 * Lua's default number formatting keeps only 14 significant digits.
 */
export const gcraScript = `
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local increment = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tat = now
local stored = redis.call('GET', KEYS[1])
if stored then
  local stored_tat, stored_interval = string.match(stored, '^(%d+):(%d+)$')
  stored_tat = tonumber(stored_tat)
  stored_interval = tonumber(stored_interval)
  if stored_tat and stored_interval and stored_tat > now then
    if stored_interval == interval then
      tat = stored_tat
    else
      tat = now + math.ceil((stored_tat - now) * interval / stored_interval)
    end
  end
end
local new_tat = tat + increment
local allow_at = new_tat - burst
if allow_at > now then
  local remaining = math.floor((now + burst - tat) / interval)
  if remaining < 0 then remaining = 0 end
  return {0, remaining, tat - now, allow_at - now}
end
redis.call('SET', KEYS[1], string.format('%.0f:%.0f', new_tat, interval), 'PX', string.format('%d', math.ceil((new_tat - now) / 1000) + 1))
return {1, math.floor((now + burst - new_tat) / interval), new_tat - now, 0}
`;

const scriptSha = createHash("sha1").update(gcraScript).digest("hex");

export interface RedisRateLimiterOptions {
  url: string;
  /** Prepended to every key, so deployments and test runs can share a server. */
  prefix: string;
  /** A decision slower than this fails (and the caller falls back). */
  commandTimeoutMs: number;
  /** Called on connection errors (ioredis reports each reconnect attempt). */
  onConnectionError?: (error: Error) => void;
}

export class RedisRateLimiter implements RateLimiter {
  readonly kind = "redis" as const;
  private readonly client: Redis;
  private readonly prefix: string;
  private closed = false;

  constructor(options: RedisRateLimiterOptions) {
    this.prefix = options.prefix;
    this.client = new Redis(options.url, {
      // Fail at once while disconnected instead of queueing: a request must not wait for Redis to come back.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs,
      connectTimeout: Math.max(1000, options.commandTimeoutMs),
      // Reconnect for ever, backing off to one attempt per second: recovery needs no operator.
      retryStrategy: (attempt) => Math.min(50 * attempt, 1000),
      lazyConnect: false,
    });
    this.client.on("error", (error: Error) => options.onConnectionError?.(error));
  }

  /** True while the connection is up; decisions are only attempted then. */
  get available(): boolean {
    return this.client.status === "ready";
  }

  /** Calls `listener` whenever the connection is (re)established. */
  onReady(listener: () => void): void {
    this.client.on("ready", listener);
  }

  /** Resolves true once connected, false after `timeoutMs` (the caller starts degraded and recovers later). */
  async waitUntilReady(timeoutMs: number): Promise<boolean> {
    if (this.available) return true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.client.off("ready", onReady);
        resolve(false);
      }, timeoutMs);
      timer.unref?.();
      const onReady = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.client.once("ready", onReady);
    });
  }

  async consume(subject: string, policy: RateLimitPolicy, cost = 1): Promise<RateLimitDecision> {
    const params = gcraParameters(policy, cost);
    const key = `${this.prefix}${subject}`;
    const args = [params.interval, params.burst, params.increment];
    let reply: unknown;
    try {
      reply = await this.client.evalsha(scriptSha, 1, key, ...args);
    } catch (error) {
      // First use on this server (or after a restart or SCRIPT FLUSH): EVAL sends the body and caches it.
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
      reply = await this.client.eval(gcraScript, 1, key, ...args);
    }
    const [allowed, remaining, resetMicros, retryAfterMicros] = reply as [number, number, number, number];
    return { allowed: allowed === 1, remaining, resetMicros, retryAfterMicros, backend: "redis" };
  }

  health() {
    return this.available
      ? { ok: true, detail: "redis", active: "redis" as const, degraded: false }
      : { ok: false, detail: `redis ${this.client.status}`, active: "redis" as const, degraded: true };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.client.status === "end") return;
    try {
      await this.client.quit();
    } catch {
      // Not connected: nothing to say goodbye to.
      this.client.disconnect();
    }
  }
}
