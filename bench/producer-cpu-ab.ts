import { loadavg } from "node:os";
import pg from "pg";
import { createdHistoryParams, orderInsertParams, orderWithHistoryCtes } from "../src/domain/orders/store.ts";
import { option, twoCheckouts } from "./lib/args.ts";
import { median, round } from "./lib/load.ts";
import { cpuSecondsOf } from "./lib/processes.ts";
import { createBenchDatabase, orderInput } from "./lib/setup.ts";

/**
 * `npx tsx bench/producer-cpu-ab.ts --before DIR --after DIR [--rounds 8] [--count 5000] [--subscriptions 1]`:
 * the PostgreSQL CPU of scenario 4's producer statement (an order and its CREATED history row, in the one statement
 * `insertOrder` sends; the triggers write the event and the deliveries) on two checkouts' schemas, each database
 * shaped by its own migrations, before and after alternating. One backend runs the statement `count` times in one
 * transaction that is rolled back at the end, and its CPU time is read from /proc before and after: no commit, no
 * client, no network, so what is left is the triggers, the foreign-key and check constraints and the index entries,
 * and the figure depends far less on the neighbours than a rate does (take the median of the rounds). The commit's
 * own deferred triggers (the CREATED-row check, the dispatcher wake-up) do not run; `pgbench` with
 * `bench/producer-pgbench.sql` measures the whole transaction. Not part of `npm run bench`.
 */

const dirs = twoCheckouts();
const rounds = Number(option("rounds", "8"));
const count = Number(option("count", "5000"));
const subscriptionCount = Number(option("subscriptions", "1"));
const adminUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

interface Side {
  url: string;
  tenantId: string;
  drop(): Promise<void>;
}

/** A database shaped by `root`'s migrations (bench/lib/setup.ts), with a tenant and its subscriptions. */
async function createSide(root: string): Promise<Side> {
  const { url, db, drop } = await createBenchDatabase(adminUrl, root);
  const { rows } = await db.query<{ id: string }>(
    "insert into tenants (name) values ('producer') returning id",
  );
  const tenantId = rows[0]!.id;
  for (let i = 0; i < subscriptionCount; i++) {
    await db.query(
      `insert into webhook_subscriptions (tenant_id, mode, url, events, secret)
       values ($1, 'test', 'https://receiver.example/hook', '{ORDER_CREATED}', 'whsec_bench')`,
      [tenantId],
    );
  }
  return { url, tenantId, drop };
}

/**
 * A DO block running `insertOrder`'s statement `count` times: its CTEs from `orderWithHistoryCtes` and its values
 * from `orderInsertParams` and `createdHistoryParams` (src/domain/orders/store.ts), so a change there reaches this
 * tool. Only the values are written differently: literals instead of bind parameters, and the three that must
 * differ per order (external_id, tracking number, tracking token) made on the server from a random `r`.
 */
function producerLoop(tenantId: string): string {
  const input = orderInput(perOrder.externalId);
  const ids = { trackingNumber: perOrder.trackingNumber, trackingToken: perOrder.trackingToken };
  const row = orderInsertParams({ tenantId, mode: "test" }, input, ids).map(sqlValue);
  const history = createdHistoryParams(input).map(sqlValue);
  return `do $producer$
     declare r text;
     begin
       for i in 1..${count} loop
         r := md5(random()::text);
         with ${orderWithHistoryCtes(`values (${row.join(", ")})`, { values: history.join(", "), from: "o" })}
         select o.id into r from o;
       end loop;
     end $producer$`;
}

/** Placeholders for the per-order values, replaced by expressions of `r` wherever the parameters put them. */
const perOrder = {
  externalId: "(external_id of each order)",
  trackingNumber: "(tracking number of each order)",
  trackingToken: "(tracking token of each order)",
};

/** A parameter of the statement as an SQL expression. */
function sqlValue(value: unknown): string {
  if (value === perOrder.externalId) return "'PRODUCER-' || r";
  if (value === perOrder.trackingNumber) return "'CV' || substr(r, 1, 12)";
  if (value === perOrder.trackingToken) return "'trk_' || r";
  if (value === null || value === undefined) return "null";
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return `'${value.replaceAll("'", "''")}'`;
  throw new Error(`no SQL literal for ${typeof value} ${String(value)}`);
}

/** Backend CPU per statement, µs: `count` order creations in one transaction, rolled back. */
async function measure(side: Side): Promise<number> {
  const client = new pg.Client({ connectionString: side.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>("select pg_backend_pid() as pid");
    const pid = rows[0]!.pid;
    await client.query("begin");
    const before = cpuSecondsOf(pid);
    await client.query(producerLoop(side.tenantId));
    const after = cpuSecondsOf(pid);
    await client.query("rollback");
    return ((after - before) * 1e6) / count;
  } finally {
    await client.end();
  }
}

const sides = {
  before: await createSide(dirs.before),
  after: await createSide(dirs.after),
};
const results: Record<"before" | "after", number[]> = { before: [], after: [] };
const loads: number[] = [];
try {
  // Warm-up of each side (plans, caches), unrecorded.
  await measure(sides.before);
  await measure(sides.after);
  for (let index = 0; index < rounds; index++) {
    const order: ("before" | "after")[] = index % 2 === 0 ? ["before", "after"] : ["after", "before"];
    for (const side of order) {
      loads.push(loadavg()[0]!);
      const perStatement = await measure(sides[side]);
      results[side].push(round(perStatement, 1));
      console.log(`round ${index + 1} ${side}: ${round(perStatement, 1)} µs of backend CPU per order`);
    }
  }
  console.log(
    JSON.stringify(
      {
        before: { dir: dirs.before, medianMicros: round(median(results.before), 1), runs: results.before },
        after: { dir: dirs.after, medianMicros: round(median(results.after), 1), runs: results.after },
        count,
        subscriptions: subscriptionCount,
        loadAverage: { min: round(Math.min(...loads), 2), max: round(Math.max(...loads), 2) },
      },
      null,
      2,
    ),
  );
} finally {
  for (const side of Object.values(sides)) await side.drop();
}
