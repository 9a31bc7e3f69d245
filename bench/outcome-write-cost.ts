/**
 * What the webhook outcome write costs PostgreSQL per delivery, by the number of outcomes per write (the
 * dispatcher gathers the outcomes that finish within a delay into one write). One connection, a new database, the
 * checkout's migrations; deliveries claimed, then their outcomes (all succeeded) written `--per-write` at a time.
 * The backend's CPU (/proc, 10 ms ticks) over `--deliveries` outcomes, per delivery, for each size, in alternating
 * rounds.
 *
 *   flock /tmp/cellvi-bench.lock npx tsx bench/outcome-write-cost.ts [--sizes 4,20,100] [--deliveries 4000] [--rounds 3]
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import pg from "pg";
import { migrate } from "../src/adapters/db/migrate.ts";
import { openPostgresDb } from "../src/adapters/db/postgres.ts";
import { claimDueDeliveries, recordAttemptOutcomes } from "../src/domain/webhooks/queue.ts";
import { option } from "./lib/args.ts";

const sizes = option("sizes", "4,20,100").split(",").map(Number);
const deliveries = Number(option("deliveries", "4000"));
const rounds = Number(option("rounds", "3"));
const baseUrl = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

const name = `cc_bench_outcomes_${process.pid}`;
const admin = new pg.Client({ connectionString: baseUrl });
await admin.connect();
await admin.query(`create database ${name}`);
const url = new URL(baseUrl);
url.pathname = `/${name}`;
const db = await openPostgresDb(url.toString(), { poolMax: 1 });
try {
  await migrate(db);
  const tenant = randomUUID();
  await db.query("insert into tenants (id, name) values ($1, 'bench')", [tenant]);
  const subscription = (
    await db.query<{ id: string }>(
      `insert into webhook_subscriptions (tenant_id, mode, url, events, secret)
       values ($1, 'live', 'https://example.com/hooks', '{*}', 'whsec_x') returning id`,
      [tenant],
    )
  ).rows[0]!.id;
  const backend = (await db.query<{ pid: number }>("select pg_backend_pid() as pid where $1::int = 1", [1]))
    .rows[0]!.pid;
  const ticks = () => {
    const fields = readFileSync(`/proc/${backend}/stat`, "utf8").split(") ")[1]!.split(" ");
    return Number(fields[11]) + Number(fields[12]);
  };
  let batch = 0;
  const measure = async (size: number) => {
    batch++;
    await db.query(
      `insert into webhook_deliveries (tenant_id, mode, subscription_id, event_id, event_type, body, next_attempt_at)
       select $1, 'live', $2, 'evt_' || $3::int || '_' || n, 'ORDER_CREATED', '{}', now() - interval '1 minute'
         from generate_series(1, $4::int) n`,
      [tenant, subscription, batch, deliveries],
    );
    const claimed = [];
    while (claimed.length < deliveries) {
      const got = await claimDueDeliveries(db, {
        now: new Date(),
        limit: 100,
        leaseMs: 600_000,
        perEndpoint: 1_000_000,
        leaseToken: randomUUID(),
      });
      if (got.length === 0) break;
      claimed.push(...got);
    }
    const now = new Date();
    const records = claimed.map((d) => ({
      deliveryId: d.id,
      leaseToken: d.lease_token,
      subscriptionId: d.subscription_id,
      attempt: d.attempts,
      attemptedAt: now,
      durationMs: 1,
      outcome: "succeeded" as const,
      statusCode: 204,
      error: null,
      responseBody: null,
      deliveryStatus: "succeeded" as const,
      nextAttemptAt: null,
      disableSubscription: null,
      subscriptionWasFailing: false,
    }));
    const before = ticks();
    for (let i = 0; i < records.length; i += size) {
      await recordAttemptOutcomes(db, records.slice(i, i + size), {
        now,
        disableAfterMs: 86_400_000,
        secretWaitMaxMs: 3_600_000,
        leaseMs: 40_000,
      });
    }
    return Math.round(((ticks() - before) * 10_000) / records.length);
  };
  for (const size of sizes) await measure(size); // warm-up: plans made, caches filled
  const results: Record<number, number[]> = {};
  for (let round = 0; round < rounds; round++) {
    for (const size of round % 2 === 0 ? sizes : [...sizes].reverse()) {
      const runs = results[size] ?? [];
      runs.push(await measure(size));
      results[size] = runs;
    }
  }
  console.log(
    JSON.stringify({ load: loadavg().map((v) => v.toFixed(2)), deliveries, microsPerDelivery: results }),
  );
} finally {
  await db.close();
  await admin.query(`drop database if exists ${name} with (force)`);
  await admin.end();
}
