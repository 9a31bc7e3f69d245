import { loadavg } from "node:os";
import { Redis } from "ioredis";
import { pino } from "pino";
import { createRateLimiter } from "../src/adapters/ratelimit/index.ts";
import { MemoryRateLimiter } from "../src/adapters/ratelimit/memory.ts";
import type { RateLimiter } from "../src/adapters/ratelimit/types.ts";

/**
 * `npx tsx bench/rate-limiter.ts [--redis redis://127.0.0.1:6379] [--n 20000]`: the latency one rate-limit
 * decision adds to a request, as the gateway makes it (the Redis limiter with its fallback wrapper: one EVALSHA of
 * the GCRA script), next to a bare Redis PING (the loopback round trip no script can beat) and the in-memory
 * limiter. Sequential calls, so each number is one decision's latency, not a throughput. Issue 5's target: p99
 * under 1 ms with Redis on loopback. Uses keys under a throwaway prefix that expire within a minute.
 */
function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 && process.argv[index + 1] ? process.argv[index + 1]! : fallback;
}

const redisUrl = option("redis", "redis://127.0.0.1:6379");
const n = Number(option("n", "20000"));
const policy = { name: "default", limit: 1_000_000, windowSeconds: 60 };

function summary(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) =>
    Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! * 1000) / 1000;
  return {
    n: sorted.length,
    p50_ms: at(0.5),
    p90_ms: at(0.9),
    p99_ms: at(0.99),
    p999_ms: at(0.999),
    max_ms: at(1),
  };
}

async function time(fn: (i: number) => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < Math.min(2000, n / 10); i++) await fn(i);
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    await fn(i);
    samples.push(performance.now() - started);
  }
  return samples;
}

async function main() {
  const prefix = `cellvi:bench:${process.pid}:`;
  const logger = pino({ level: "warn" });
  const { limiter, ready } = createRateLimiter(
    {
      REDIS_URL: redisUrl,
      RATE_LIMIT_REDIS_PREFIX: prefix,
      REDIS_COMMAND_TIMEOUT_MS: 1000,
      RATE_LIMIT_FAIL_CLOSED: true,
    },
    logger,
  );
  const memory: RateLimiter = new MemoryRateLimiter();
  const ping = new Redis(redisUrl);
  try {
    if (!(await ready(5000))) throw new Error(`Redis at ${redisUrl} is not reachable`);
    // 1,000 subjects in rotation: as many buckets as a busy instance touches, not one hot key.
    const results = {
      redis_ping: summary(await time(() => ping.ping())),
      redis_limiter: summary(await time((i) => limiter.consume(`key:bench-${i % 1000}`, policy))),
      memory_limiter: summary(await time((i) => memory.consume(`key:bench-${i % 1000}`, policy))),
    };
    const verdict = results.redis_limiter.p99_ms < 1 ? "met" : "NOT met";
    // A loaded machine (load average above its core count) inflates every tail, the bare PING's included.
    const load = loadavg().map((value) => Math.round(value * 100) / 100);
    process.stdout.write(`${JSON.stringify({ redis: redisUrl, load_average: load, ...results }, null, 2)}\n`);
    process.stdout.write(`rate limiter p99 ${results.redis_limiter.p99_ms} ms (target < 1 ms): ${verdict}\n`);
  } finally {
    await limiter.close();
    await memory.close();
    ping.disconnect();
  }
}

await main();
