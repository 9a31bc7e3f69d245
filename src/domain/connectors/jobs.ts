import type { Db, Queryable } from "../../adapters/db/types.ts";
import type { ConnectorRow } from "./store.ts";

/**
 * The connector job queue (table `connector_jobs`). Two kinds:
 * - `vtex.fetch_order`: read one order from the VTEX OMS after its hook was answered; retried with backoff, then
 *   marked failed (visible on the delivery, retryable by hand).
 * - `magento.poll`: one recurring job per polling Magento connector; never gives up, it backs off and tries again.
 *
 * Times come from the injected clock (passed as `now`), never from the database's `now()`, so tests can move time.
 */

export type JobKind = "vtex.fetch_order" | "magento.poll";

export interface JobRow {
  id: number;
  connector_id: string;
  tenant_id: string;
  mode: ConnectorRow["mode"];
  kind: JobKind;
  delivery_id: string | null;
  payload: Record<string, unknown>;
  status: "pending" | "running" | "failed";
  attempts: number;
  max_attempts: number;
  run_at: Date;
  locked_until: Date | null;
  last_error: string | null;
}

export const jobsChannel = "cellvi_connector_jobs";

/** Delays before the 2nd, 3rd, ... attempt of a VTEX fetch: about 22 hours in all, then the delivery fails. */
export const vtexRetryScheduleMs = [
  5_000, 15_000, 60_000, 300_000, 900_000, 3_600_000, 10_800_000, 21_600_000, 43_200_000,
];
export const vtexMaxAttempts = vtexRetryScheduleMs.length + 1;

/** How long a claimed job is held before another worker may take it over (a fetch takes one HTTP timeout). */
export const jobLeaseMs = 120_000;

/** ±10 % so that jobs failing together (an OMS outage) do not all come back in the same second. */
export function withJitter(ms: number, random: () => number = Math.random): number {
  return Math.round(ms * (0.9 + random() * 0.2));
}

export function retryDelayMs(kind: JobKind, attempts: number, pollIntervalMs = 300_000): number {
  const schedule = vtexRetryScheduleMs;
  const base = schedule[Math.min(Math.max(attempts - 1, 0), schedule.length - 1)]!;
  return withJitter(kind === "magento.poll" ? Math.min(base, pollIntervalMs) : base);
}

export async function enqueueVtexFetch(
  tx: Queryable,
  connector: ConnectorRow,
  deliveryId: string,
  orderId: string,
  now: Date,
): Promise<void> {
  await tx.query(
    `insert into connector_jobs (connector_id, tenant_id, mode, kind, delivery_id, payload, max_attempts, run_at)
     values ($1, $2, $3, 'vtex.fetch_order', $4, $5, $6, $7)
     on conflict (delivery_id) where kind = 'vtex.fetch_order'
       do update set status = 'pending', attempts = 0, run_at = excluded.run_at, locked_until = null, last_error = null,
                     updated_at = excluded.run_at`,
    [
      connector.id,
      connector.tenant_id,
      connector.mode,
      deliveryId,
      JSON.stringify({ order_id: orderId }),
      vtexMaxAttempts,
      now,
    ],
  );
  await tx.query("select pg_notify($1, $2)", [jobsChannel, "vtex.fetch_order"]);
}

/** Starts (or restarts now) the poller of a Magento connector. */
export async function schedulePoll(tx: Queryable, connector: ConnectorRow, now: Date): Promise<void> {
  await tx.query(
    `insert into connector_jobs (connector_id, tenant_id, mode, kind, max_attempts, run_at)
     values ($1, $2, $3, 'magento.poll', 1, $4)
     on conflict (connector_id) where kind = 'magento.poll'
       do update set status = 'pending', attempts = 0, run_at = excluded.run_at, locked_until = null,
                     updated_at = excluded.run_at`,
    [connector.id, connector.tenant_id, connector.mode, now],
  );
  await tx.query("select pg_notify($1, $2)", [jobsChannel, "magento.poll"]);
}

export async function cancelPoll(tx: Queryable, connectorId: string): Promise<void> {
  await tx.query("delete from connector_jobs where connector_id = $1 and kind = 'magento.poll'", [
    connectorId,
  ]);
}

export async function getPollJob(db: Queryable, connectorId: string): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>(
    "select * from connector_jobs where connector_id = $1 and kind = 'magento.poll'",
    [connectorId],
  );
  return rows[0] ?? null;
}

/**
 * Claims up to `limit` due jobs: pending ones whose time has come, and running ones whose lease expired (their
 * worker died). SKIP LOCKED lets any number of workers claim side by side without waiting on each other.
 */
export async function claimDueJobs(db: Db, now: Date, limit: number): Promise<JobRow[]> {
  const { rows } = await db.query<JobRow>(
    `with due as (
       select id from connector_jobs
        where run_at <= $1
          and (status = 'pending' or (status = 'running' and locked_until < $1))
        order by run_at
        limit $2
        for update skip locked
     )
     update connector_jobs j
        set status = 'running', attempts = j.attempts + 1, locked_until = $1::timestamptz + make_interval(secs => $3),
            updated_at = $1
       from due
      where j.id = due.id
     returning j.*`,
    [now, limit, jobLeaseMs / 1000],
  );
  return rows;
}

export async function deleteJob(tx: Queryable, jobId: number): Promise<void> {
  await tx.query("delete from connector_jobs where id = $1", [jobId]);
}

export async function rescheduleJob(
  tx: Queryable,
  jobId: number,
  runAt: Date,
  options: { error?: string | null; resetAttempts?: boolean } = {},
): Promise<void> {
  await tx.query(
    `update connector_jobs
        set status = 'pending', run_at = $2, locked_until = null, last_error = $3,
            attempts = case when $4 then 0 else attempts end, updated_at = now()
      where id = $1`,
    [jobId, runAt, options.error ?? null, options.resetAttempts ?? false],
  );
}

export async function failJob(tx: Queryable, jobId: number, error: string): Promise<void> {
  await tx.query(
    "update connector_jobs set status = 'failed', locked_until = null, last_error = $2, updated_at = now() where id = $1",
    [jobId, error],
  );
}

export async function getJobForDelivery(db: Queryable, deliveryId: string): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>("select * from connector_jobs where delivery_id = $1", [
    deliveryId,
  ]);
  return rows[0] ?? null;
}
