import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { Redis } from "ioredis";
import { median, round, runLoad } from "./lib/load.ts";
import { freePort, root, startGateway } from "./lib/processes.ts";
import { createBenchDatabase, createBenchTenant } from "./lib/setup.ts";
import { keyedNoopTarget } from "./scenarios/http.ts";

/**
 * `npx tsx bench/cpu-ab.ts --before DIR [--after DIR] [--rate 2000] [--rounds 5] [--duration 6] [--path /v1/whoami] [--profile]`: the CPU
 * each of two checkouts' gateways spends per keyed request at a fixed request rate, before and after alternating
 * (A B, B A, ...), both on one database and one Redis. At a fixed rate below saturation, CPU time per request
 * (user and system apart, from /proc) hardly depends on the neighbours' load, unlike requests per second, so a
 * change of a few microseconds shows on a shared machine. Not part of `npm run bench`: a tool for before/after
 * pairs (BENCHMARKS.md names the runs that used it).
 */

const argv = process.argv.slice(2);
const value = (name: string, fallback: string) => {
  const index = argv.indexOf(`--${name}`);
  return index >= 0 ? (argv[index + 1] ?? fallback) : fallback;
};
const before = value("before", "");
if (!before) throw new Error("--before DIR: the other checkout (e.g. a git worktree of an earlier commit)");
/** `--after DIR`: the checkout measured against `--before` (default: this one). */
const after = value("after", root);
/** `--rate 0`: as fast as the gateway answers (50 connections), where the Redis limiter's batching shows. */
const rate = Number(value("rate", "2000"));
const load = rate > 0 ? { connections: 20, overallRate: rate } : { connections: 50 };
const rounds = Number(value("rounds", "5"));
const durationS = Number(value("duration", "6"));
const path = value("path", "/v1/whoami");
/** `--profile`: the "after" gateway writes a V8 CPU profile to bench/profiles/ (`npx tsx bench/profile-summary.ts`). */
const profile = argv.includes("--profile");

function cpuTicks(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 };
}

async function main(): Promise<void> {
  const adminUrl = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const redisUrl = process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379";
  const prefix = `cellvi:bench-ab:${process.pid}:`;
  // One database per side, each with its own checkout's migrations (a checkout refuses a schema it does not know).
  const databases: Awaited<ReturnType<typeof createBenchDatabase>>[] = [];
  const sides: {
    name: string;
    stop(): Promise<unknown>;
    url: string;
    pid: number;
    tenant: Awaited<ReturnType<typeof createBenchTenant>>;
  }[] = [];
  try {
    for (const [name, dir] of [
      ["before", before],
      ["after", after],
    ] as const) {
      const database = await createBenchDatabase(adminUrl, dir);
      databases.push(database);
      const tenant = await createBenchTenant(database.db, "Bench A/B");
      const gateway = await startGateway(
        {
          DATABASE_URL: database.url,
          REDIS_URL: redisUrl,
          RATE_LIMIT_REDIS_PREFIX: `${prefix}${name}:`,
          METRICS_PORT: String(await freePort()),
        },
        profile && name === "after" ? ["--cpu-prof", "--cpu-prof-dir", `${root}/bench/profiles`] : [],
        dir,
      );
      sides.push({
        name,
        tenant,
        stop: () => gateway.stop(),
        url: `http://127.0.0.1:${gateway.port}`,
        pid: gateway.child.pid!,
      });
    }
    const results = new Map<string, { user: number[]; system: number[]; total: number[]; rps: number[] }>();
    for (const side of sides) {
      results.set(side.name, { user: [], system: [], total: [], rps: [] });
      // Warm-up, unrecorded: JIT, caches, pools.
      await runLoad(
        keyedNoopTarget({ gatewayUrl: side.url, gatewayPid: side.pid, tenant: side.tenant, noopPath: path }),
        {
          ...load,
          durationS: 3,
        },
      );
    }
    for (let round_ = 0; round_ < rounds; round_++) {
      const order = round_ % 2 === 0 ? sides : [...sides].reverse();
      for (const side of order) {
        const cpu0 = cpuTicks(side.pid);
        const run = await runLoad(
          keyedNoopTarget({
            gatewayUrl: side.url,
            gatewayPid: side.pid,
            tenant: side.tenant,
            noopPath: path,
          }),
          { ...load, durationS },
        );
        const cpu1 = cpuTicks(side.pid);
        const r = results.get(side.name)!;
        const per = (seconds: number) => (seconds * 1e6) / run.total;
        r.user.push(per(cpu1.user - cpu0.user));
        r.system.push(per(cpu1.system - cpu0.system));
        r.total.push(per(cpu1.user - cpu0.user + cpu1.system - cpu0.system));
        r.rps.push(run.requestsPerSecond);
        process.stderr.write(
          `round ${round_ + 1} ${side.name}: ${round(run.requestsPerSecond, 0)} req/s, CPU ${round(per(cpu1.user - cpu0.user + cpu1.system - cpu0.system), 1)} µs/req (user ${round(per(cpu1.user - cpu0.user), 1)}, system ${round(per(cpu1.system - cpu0.system), 1)}), unexpected ${run.unexpected}\n`,
        );
      }
    }
    const summary = Object.fromEntries(
      [...results].map(([name, r]) => [
        name,
        {
          cpuMicrosPerRequest: round(median(r.total), 1),
          userMicros: round(median(r.user), 1),
          systemMicros: round(median(r.system), 1),
          requestsPerSecond: round(median(r.rps), 0),
        },
      ]),
    );
    process.stdout.write(
      `${JSON.stringify({ path, rate, rounds, durationS, loadAverage: loadavg().map((v) => round(v, 2)), summary }, null, 2)}\n`,
    );
  } finally {
    for (const side of sides) await side.stop();
    for (const database of databases) await database.drop();
    const redis = new Redis(redisUrl);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  }
}

await main();
