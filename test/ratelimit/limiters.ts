import { pino } from "pino";
import { MemoryRateLimiter } from "../../src/adapters/ratelimit/memory.ts";
import { RedisRateLimiter } from "../../src/adapters/ratelimit/redis.ts";
import type { RateLimiter } from "../../src/adapters/ratelimit/types.ts";

/** The shared Redis on the machine. Tests only ever touch keys under their own random prefix. */
export const sharedRedisUrl = "redis://127.0.0.1:6379";

export function uniquePrefix(): string {
  return `cellvi:test:${process.pid}:${Math.random().toString(36).slice(2, 10)}:`;
}

export const silentLogger = pino({ level: "silent" });

export interface LimiterFactory {
  name: string;
  /** A limiter; `shared` names a bucket space two limiters of one test share (two instances, one Redis). */
  create(shared: string): Promise<RateLimiter>;
}

const memoryByShare = new Map<string, MemoryRateLimiter>();

export const limiterFactories: LimiterFactory[] = [
  {
    name: "memory",
    // One process's memory is the only thing in-memory limiters can share: the same object stands for both.
    async create(shared) {
      let limiter = memoryByShare.get(shared);
      if (!limiter) {
        limiter = new MemoryRateLimiter();
        memoryByShare.set(shared, limiter);
      }
      return limiter;
    },
  },
  {
    name: "redis",
    async create(shared) {
      const limiter = new RedisRateLimiter({ url: sharedRedisUrl, prefix: shared, commandTimeoutMs: 2000 });
      if (!(await limiter.waitUntilReady(5000)))
        throw new Error("the shared Redis on 127.0.0.1:6379 is not up");
      return limiter;
    },
  },
];

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
