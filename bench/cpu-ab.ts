import { loadavg } from "node:os";
import { startAbSides } from "./lib/ab.ts";
import { flag, option } from "./lib/args.ts";
import { median, round, runLoad } from "./lib/load.ts";
import { cpuTimesOf, root } from "./lib/processes.ts";
import { keyedNoopTarget } from "./scenarios/http.ts";

/**
 * `npx tsx bench/cpu-ab.ts --before DIR [--after DIR] [--rate 2000] [--rounds 5] [--duration 6] [--path /v1/whoami] [--profile]
 * [--before-env K=V,K=V] [--after-env K=V]`: the CPU
 * each of two checkouts' gateways spends per keyed request at a fixed request rate, before and after alternating
 * (A B, B A, ...), each on a database shaped by its own migrations. At a fixed rate below saturation, CPU time per request
 * (user and system apart, from /proc) hardly depends on the neighbours' load, unlike requests per second, so a
 * change of a few microseconds shows on a shared machine. With the same checkout on both sides, `--after-env` measures
 * what one duty costs: `REDIS_URL=` (the in-memory limiter instead of Redis) or `LOG_LEVEL=warn` (no request line). Not part of `npm run bench`: a tool for before/after
 * pairs (BENCHMARKS.md names the runs that used it).
 */

const before = option("before", "");
if (!before) throw new Error("--before DIR: the other checkout (e.g. a git worktree of an earlier commit)");
/** `--after DIR`: the checkout measured against `--before` (default: this one). */
const after = option("after", root);
/** `--rate 0`: as fast as the gateway answers (50 connections), where the Redis limiter's batching shows. */
const rate = Number(option("rate", "2000"));
const load = rate > 0 ? { connections: 20, overallRate: rate } : { connections: 50 };
const rounds = Number(option("rounds", "5"));
const durationS = Number(option("duration", "6"));
const path = option("path", "/v1/whoami");
/** `--before-env` / `--after-env K=V,K=V`: extra environment of that side's gateway (an empty value unsets a setting). */
const sideEnv = (name: "before" | "after"): Record<string, string> =>
  Object.fromEntries(
    option(`${name}-env`, "")
      .split(",")
      .filter(Boolean)
      .map((pair) => {
        const at = pair.indexOf("=");
        if (at <= 0) throw new Error(`--${name}-env: expected K=V pairs, got ${pair}`);
        return [pair.slice(0, at), pair.slice(at + 1)];
      }),
  );
/** `--profile`: the "after" gateway writes a V8 CPU profile to bench/profiles/ (`npx tsx bench/profile-summary.ts`). */
const profile = flag("profile");

async function main(): Promise<void> {
  const adminUrl = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const redisUrl = process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379";
  const prefix = `cellvi:bench-ab:${process.pid}:`;
  const pair = await startAbSides({
    dirs: { before, after },
    adminUrl,
    redisUrl,
    redisPrefix: prefix,
    env: sideEnv,
    nodeFlags: (name) =>
      profile && name === "after" ? ["--cpu-prof", "--cpu-prof-dir", `${root}/bench/profiles`] : [],
  });
  try {
    const { sides } = pair;
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
        const cpu0 = cpuTimesOf(side.pid);
        const run = await runLoad(
          keyedNoopTarget({
            gatewayUrl: side.url,
            gatewayPid: side.pid,
            tenant: side.tenant,
            noopPath: path,
          }),
          { ...load, durationS },
        );
        const cpu1 = cpuTimesOf(side.pid);
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
      `${JSON.stringify({ path, rate, rounds, durationS, env: { before: sideEnv("before"), after: sideEnv("after") }, loadAverage: loadavg().map((v) => round(v, 2)), summary }, null, 2)}\n`,
    );
  } finally {
    await pair.stop();
  }
}

await main();
