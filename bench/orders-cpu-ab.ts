import { loadavg } from "node:os";
import { startAbSides } from "./lib/ab.ts";
import { flag, option, twoCheckouts } from "./lib/args.ts";
import { median, round, runLoad } from "./lib/load.ts";
import { cpuSecondsOf } from "./lib/processes.ts";
import { createOrderTarget } from "./scenarios/http.ts";

/**
 * `npx tsx bench/orders-cpu-ab.ts --before DIR --after DIR [--rate 300] [--rounds 6] [--duration 6]
 * [--connections 20] [--pool-before 10] [--pool-after 10] [--profile]`: scenario 3 (`POST /v1/orders/create` with
 * a fresh Idempotency-Key) against two checkouts, each on a database shaped by its own migrations, at a fixed
 * rate, before and after alternating (A B, B A, ...). Per order it reports the gateway's CPU and the CPU of every
 * PostgreSQL backend connected to that side's database (from /proc; the pool and the dispatcher's connections),
 * which at a fixed rate below saturation depend far less on the neighbours than orders per second. Not part of
 * `npm run bench`: a tool for before/after pairs of order creation, triggers included.
 */

const dirs = twoCheckouts();
const rate = Number(option("rate", "300"));
const rounds = Number(option("rounds", "6"));
const durationS = Number(option("duration", "6"));
const connections = Number(option("connections", "20"));
/** `--profile`: the "after" gateway writes a V8 CPU profile to bench/profiles/. */
const profile = flag("profile");

function cpuSeconds(pid: number): number {
  try {
    return cpuSecondsOf(pid);
  } catch {
    return 0; // a backend that ended meanwhile
  }
}

interface Measured {
  gateway: number[];
  postgres: number[];
  rps: number[];
  p50: number[];
  p99: number[];
}

async function main(): Promise<void> {
  const adminUrl = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const redisUrl = process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379";
  const prefix = `cellvi:bench-orders-ab:${process.pid}:`;
  const pair = await startAbSides({
    dirs,
    adminUrl,
    redisUrl,
    redisPrefix: prefix,
    env: (name) => ({ DATABASE_POOL_MAX: option(`pool-${name}`, "10") }),
    nodeFlags: (name) =>
      profile && name === "after" ? ["--cpu-prof", "--cpu-prof-dir", `${dirs.after}/bench/profiles`] : [],
  });
  try {
    const sides = pair.sides.map((side) => ({
      ...side,
      databaseName: new URL(side.database.url).pathname.slice(1),
      measured: { gateway: [], postgres: [], rps: [], p50: [], p99: [] } as Measured,
    }));
    type Side = (typeof sides)[number];
    const target = (side: Side) =>
      createOrderTarget({ gatewayUrl: side.url, gatewayPid: side.pid, tenant: side.tenant });
    const backends = async (side: Side) =>
      (
        await side.database.db.query<{ pid: number }>(
          "select pid from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()",
          [side.databaseName],
        )
      ).rows.map((row) => row.pid);
    // Warm-up, unrecorded: JIT, pools, prepared statements.
    for (const side of sides) await runLoad(target(side), { connections, durationS: 3, overallRate: rate });
    for (let round_ = 0; round_ < rounds; round_++) {
      for (const side of round_ % 2 === 0 ? sides : [...sides].reverse()) {
        const pids = await backends(side);
        const postgres0 = pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
        const gateway0 = cpuSeconds(side.pid);
        const run = await runLoad(target(side), { connections, durationS, overallRate: rate });
        const gateway = ((cpuSeconds(side.pid) - gateway0) * 1e6) / run.total;
        const postgres =
          ((pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0) - postgres0) * 1e6) / run.total;
        side.measured.gateway.push(gateway);
        side.measured.postgres.push(postgres);
        side.measured.rps.push(run.requestsPerSecond);
        side.measured.p50.push(run.p50);
        side.measured.p99.push(run.p99);
        process.stderr.write(
          `round ${round_ + 1} ${side.name}: ${round(run.requestsPerSecond, 0)} orders/s, gateway ${round(gateway, 0)} µs/order, PostgreSQL ${round(postgres, 0)} µs/order (${pids.length} backends), p50 ${run.p50} ms, p99 ${run.p99} ms, unexpected ${run.unexpected}, load ${round(loadavg()[0]!, 2)}\n`,
        );
      }
    }
    const summary = Object.fromEntries(
      sides.map((side) => [
        side.name,
        {
          dir: dirs[side.name],
          gatewayMicrosPerOrder: round(median(side.measured.gateway), 0),
          postgresMicrosPerOrder: round(median(side.measured.postgres), 0),
          ordersPerSecond: round(median(side.measured.rps), 0),
          p50: median(side.measured.p50),
          p99: median(side.measured.p99),
        },
      ]),
    );
    process.stdout.write(
      `${JSON.stringify({ rate, rounds, durationS, connections, loadAverage: loadavg().map((v) => round(v, 2)), summary }, null, 2)}\n`,
    );
  } finally {
    await pair.stop();
  }
}

await main();
