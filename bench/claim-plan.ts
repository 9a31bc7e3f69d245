/**
 * The webhook claim's cost under a due backlog, whatever plan its statement caches (see claimDueDeliveries in
 * src/domain/webhooks/queue.ts). On a new database the claim runs six times on the empty table (so the server's
 * named statement, or the claim function, keeps its generic plan), then `--rows` due deliveries of one subscription
 * are added, held by this worker all but one (so the scan finds them but may claim one), plus before each claim a
 * delivery of a second subscription behind them. Reports the claims' median and 90th percentile time, the
 * PostgreSQL backend's CPU per claim (postgres only, from /proc), and the index entries and table rows a claim read
 * (the per-transaction statistics counters, over 5 more claims each in its own transaction).
 *
 *   flock /tmp/cellvi-bench.lock npx tsx bench/claim-plan.ts [--engine postgres|embedded] [--rows 30000] [--claims 200]
 *     [--analyze] [--saturated]
 *
 * Without `--saturated` the worker has one free slot for the backlog's subscription: a freed-slot claim, which skips
 * nothing. With it the worker holds all it may for that subscription: a paced claim, which skips it. `claimed_other`
 * counts the claims that took the second subscription's delivery.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import pg from "pg";
import { migrate } from "../src/adapters/db/migrate.ts";
import { openEmbeddedDb } from "../src/adapters/db/pglite.ts";
import { openPostgresDb } from "../src/adapters/db/postgres.ts";
import type { Db, Queryable } from "../src/adapters/db/types.ts";
import { claimDueDeliveries } from "../src/domain/webhooks/queue.ts";

function arg(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? (process.argv[index + 1] ?? fallback) : fallback;
}
const engine = arg("engine", "postgres");
const rows = Number(arg("rows", "30000"));
const claims = Number(arg("claims", "200"));
const saturated = process.argv.includes("--saturated");
const baseUrl = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

async function open(): Promise<{ db: Db; close(): Promise<void> }> {
  if (engine === "embedded") {
    const db = await openEmbeddedDb();
    return { db, close: () => db.close() };
  }
  const name = `cc_bench_claim_${process.pid}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  // One connection: every claim runs on the connection whose statement cache the first claims filled.
  const db = await openPostgresDb(url.toString(), { poolMax: 1 });
  return {
    db,
    async close() {
      await db.close();
      if (process.argv.includes("--keep")) return console.log(`kept database ${name}`);
      const dropper = new pg.Client({ connectionString: baseUrl });
      await dropper.connect();
      await dropper.query(`drop database if exists ${name} with (force)`);
      await dropper.end();
    },
  };
}

const { db, close } = await open();
try {
  await migrate(db);
  const tenant = randomUUID();
  await db.query("insert into tenants (id, name) values ($1, 'bench')", [tenant]);
  const subscription = async () =>
    (
      await db.query<{ id: string }>(
        `insert into webhook_subscriptions (tenant_id, mode, url, events, secret)
         values ($1, 'live', 'https://example.com/hooks', '{*}', 'whsec_x') returning id`,
        [tenant],
      )
    ).rows[0]!.id;
  const busy = await subscription();
  const other = await subscription();
  const perEndpoint = 32;
  const claim = (now: Date, on: Queryable = db) =>
    claimDueDeliveries(on, {
      now,
      limit: 100,
      leaseMs: 60_000,
      perEndpoint,
      inFlight: new Map([[busy, saturated ? perEndpoint : perEndpoint - 1]]),
      leaseToken: randomUUID(),
    });
  for (let i = 0; i < 6; i++) await claim(new Date());

  const base = Date.now() - 3_600_000;
  await db.query(
    `insert into webhook_deliveries (tenant_id, mode, subscription_id, event_id, event_type, body, next_attempt_at)
     select $1, 'live', $2, 'evt_' || n, 'ORDER_CREATED', '{}', $3::timestamptz + n * interval '1 millisecond'
       from generate_series(1, $4::int) n`,
    [tenant, busy, new Date(base).toISOString(), rows],
  );
  // --analyze: statistics of the loaded table, so that the plans made after it (the server re-plans a prepared
  // statement when its table is analysed) know the backlog.
  if (process.argv.includes("--analyze")) await db.exec("analyze webhook_deliveries");
  const addOther = (i: number) =>
    db.query(
      `insert into webhook_deliveries (tenant_id, mode, subscription_id, event_id, event_type, body, next_attempt_at)
       values ($1, 'live', $2, $3, 'ORDER_CREATED', '{}', now())`,
      [tenant, other, `evt_other_${i}`],
    );
  // The server process behind the (single) connection: its user + system CPU ticks.
  const backend =
    engine === "postgres"
      ? (await db.query<{ pid: number }>("select pg_backend_pid() as pid where $1::int = 1", [1])).rows[0]!
          .pid
      : 0;
  const cpuTicks = () => {
    if (!backend) return 0;
    const fields = readFileSync(`/proc/${backend}/stat`, "utf8").split(") ")[1]!.split(" ");
    return Number(fields[11]) + Number(fields[12]);
  };
  const times: number[] = [];
  let claimed = 0;
  let claimedOther = 0;
  let cpu = 0;
  for (let i = 0; i < claims; i++) {
    // The other subscription's delivery is due behind the backlog each round (a new one: the last was claimed).
    await addOther(i);
    const ticks = cpuTicks();
    const started = performance.now();
    const batch = await claim(new Date());
    times.push(performance.now() - started);
    claimed += batch.length;
    if (batch.some((delivery) => delivery.subscription_id === other)) claimedOther++;
    cpu += cpuTicks() - ticks;
  }
  const read: number[] = [];
  for (let i = 0; i < 5; i++) {
    await addOther(claims + i);
    read.push(
      await db.transaction(async (tx) => {
        const counted = async () =>
          (
            await tx.query<{ read: number }>(
              `select coalesce(sum(pg_stat_get_xact_tuples_returned(c.oid)), 0)::int as read from pg_class c
                where c.oid = $1::regclass
                   or c.oid in (select indexrelid from pg_index where indrelid = $1::regclass)`,
              ["webhook_deliveries"],
            )
          ).rows[0]!.read;
        const before = await counted();
        await claim(new Date(), tx);
        return (await counted()) - before;
      }),
    );
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
  times.sort((a, b) => a - b);
  const at = (q: number) => (times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? 0).toFixed(2);
  console.log(
    JSON.stringify({
      engine,
      rows,
      mode: saturated ? "paced (saturated subscription skipped)" : "freed slot",
      claims,
      claimed,
      claimed_other: claimedOther,
      p50_ms: at(0.5),
      p90_ms: at(0.9),
      ...(backend ? { pg_cpu_us_per_claim: Math.round((cpu * 10_000) / claims) } : {}),
      rows_read_per_claim: median(read),
    }),
  );
} finally {
  await close();
}
