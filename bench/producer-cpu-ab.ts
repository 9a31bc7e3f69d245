import { spawn } from "node:child_process";
import { loadavg } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { createdHistoryParams, orderInsertParams, orderWithHistoryCtes } from "../src/domain/orders/store.ts";
import { postgresBinDir } from "../test/support/private-postgres.ts";
import { option, twoCheckouts } from "./lib/args.ts";
import { median, round } from "./lib/load.ts";
import { cpuSecondsOf, root, sleep } from "./lib/processes.ts";
import { createBenchDatabase, orderInput } from "./lib/setup.ts";

/**
 * `npx tsx bench/producer-cpu-ab.ts --before DIR --after DIR [--rounds 8] [--count 5000] [--subscriptions 1]`:
 * the PostgreSQL CPU of scenario 4's producer statement (an order and its CREATED history row, in the one statement
 * `insertOrder` sends; the triggers write the event and the deliveries) on two checkouts' schemas, each database
 * shaped by its own migrations, before and after alternating. One backend runs the statement `count` times in one
 * transaction that is rolled back at the end, and its CPU time is read from /proc before and after: no commit, no
 * client, no network, so what is left is the triggers, the foreign-key and check constraints and the index entries,
 * and the figure depends far less on the neighbours than a rate does (take the median of the rounds). The commit's
 * own deferred triggers (the CREATED-row check, the dispatcher wake-up) do not run.
 *
 * `--concurrent N [--seconds 10]` measures the whole transaction under contention instead: `pgbench` with
 * `bench/producer-pgbench.sql`, N clients on each side, both sides at the same time (so the neighbours weigh on both
 * alike), and the CPU of each side's backends per commit between 1.5 s after the start and 1.5 s before the end.
 * What only concurrency shows is in it: the row locks of the foreign-key checks on the shared tenant and
 * subscription rows (a MultiXact for most transactions), group commit, the NOTIFY's lock at commit. Each round also
 * prints the after/before ratio; an A/A run (the same checkout on both sides) shows the noise: 0.998-1.003 in
 * session 15 (a first version in shell, with no warm-up round, moved by up to 13 % in an A/A round). Not part of
 * `npm run bench`.
 */

const dirs = twoCheckouts();
const rounds = Number(option("rounds", "8"));
const count = Number(option("count", "5000"));
const subscriptionCount = Number(option("subscriptions", "1"));
const concurrent = Number(option("concurrent", "0"));
const seconds = Number(option("seconds", "10"));
const adminUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

interface Side {
  url: string;
  database: string;
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
  return { url, database: new URL(url).pathname.slice(1), tenantId, drop };
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

/** The machine's pgbench: beside the newest PostgreSQL server binaries (as the fault tests find them), or on PATH. */
function pgbenchPath(): string {
  try {
    return join(postgresBinDir(), "pgbench");
  } catch {
    return "pgbench";
  }
}

/** Each side's `pgbench` backends and its commit count so far. */
async function sample(admin: pg.Client, side: Side): Promise<{ cpuSeconds: number; commits: number }> {
  const { rows } = await admin.query<{ pid: number }>(
    "select pid from pg_stat_activity where datname = $1 and application_name = 'pgbench'",
    [side.database],
  );
  let cpuSeconds = 0;
  for (const { pid } of rows) cpuSeconds += cpuSecondsOf(pid);
  const commits = await admin.query<{ n: string }>(
    "select xact_commit::text as n from pg_stat_database where datname = $1",
    [side.database],
  );
  return { cpuSeconds, commits: Number(commits.rows[0]!.n) };
}

/** Backend CPU per commit, µs, of both sides running `pgbench` at once (`--concurrent`). */
async function measureTogether(both: Record<"before" | "after", Side>) {
  const script = join(root, "bench/producer-pgbench.sql");
  const runs = Object.values(both).map((side) => {
    const url = new URL(side.url);
    const child = spawn(
      pgbenchPath(),
      [
        ...[
          "-h",
          url.hostname,
          "-p",
          url.port || "5432",
          "-U",
          decodeURIComponent(url.username) || "postgres",
        ],
        ...["-n", "-M", "prepared", "-f", script, "-D", `tenant=${side.tenantId}`],
        ...["-c", String(concurrent), "-j", "1", "-T", String(seconds), side.database],
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let errors = "";
    child.stderr.on("data", (chunk: Buffer) => {
      errors += chunk.toString();
    });
    return new Promise<void>((resolve, reject) =>
      child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`pgbench: ${errors.trim()}`)))),
    );
  });
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await sleep(1_500);
    const first = { before: await sample(admin, both.before), after: await sample(admin, both.after) };
    await sleep((seconds - 3) * 1_000);
    const last = { before: await sample(admin, both.before), after: await sample(admin, both.after) };
    const perCommit = (side: "before" | "after") =>
      ((last[side].cpuSeconds - first[side].cpuSeconds) * 1e6) / (last[side].commits - first[side].commits);
    return { before: perCommit("before"), after: perCommit("after") };
  } finally {
    await admin.end();
    await Promise.all(runs);
  }
}

const sides = {
  before: await createSide(dirs.before),
  after: await createSide(dirs.after),
};
const results: Record<"before" | "after", number[]> = { before: [], after: [] };
const loads: number[] = [];
try {
  if (concurrent > 0) {
    if (seconds < 5) throw new Error("--seconds: at least 5 (1.5 s are left out at each end)");
    // Warm-up of both (plans, caches, the tables' first pages), unrecorded.
    await measureTogether(sides);
    for (let index = 0; index < rounds; index++) {
      loads.push(loadavg()[0]!);
      const together = await measureTogether(sides);
      results.before.push(round(together.before, 1));
      results.after.push(round(together.after, 1));
      console.log(
        `round ${index + 1}: before ${round(together.before, 1)}, after ${round(together.after, 1)} µs of backend CPU per commit (after/before ${round(together.after / together.before, 3)})`,
      );
    }
  } else {
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
  }
  console.log(
    JSON.stringify(
      {
        before: { dir: dirs.before, medianMicros: round(median(results.before), 1), runs: results.before },
        after: { dir: dirs.after, medianMicros: round(median(results.after), 1), runs: results.after },
        ...(concurrent > 0
          ? {
              concurrent,
              seconds,
              unit: "per commit",
              ratios: results.after.map((after, i) => round(after / results.before[i]!, 3)),
            }
          : { count, unit: "per order" }),
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
