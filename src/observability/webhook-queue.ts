import type { Queryable } from "../adapters/db/types.ts";
import type { WebhookQueueSnapshot } from "./metrics.ts";

/**
 * Reads the webhook queue gauges in one statement. It runs once per Prometheus scrape, never per request, and only
 * touches pending rows (the partial index `webhook_deliveries_due_idx` covers exactly those), so its cost follows
 * the backlog, not the table's history.
 *
 * "Due" means `next_attempt_at <= now()`: a delivery leased by a worker has its lease end there (in the future) and
 * one backing off has its retry time, so neither counts as waiting. The due lag is what an operator alerts on: it
 * grows only when the dispatchers fall behind.
 */
export async function readWebhookQueue(db: Queryable): Promise<WebhookQueueSnapshot> {
  const { rows } = await db.query<{
    pending: number;
    due: number;
    oldest_pending_age: number | null;
    oldest_due_lag: number | null;
  }>(
    `select count(*)::int as pending,
            (count(*) filter (where next_attempt_at <= now()))::int as due,
            extract(epoch from now() - min(created_at))::float8 as oldest_pending_age,
            extract(epoch from now() - min(next_attempt_at) filter (where next_attempt_at <= now()))::float8
              as oldest_due_lag
       from webhook_deliveries
      where status = 'pending'`,
  );
  const row = rows[0];
  return {
    pending: row?.pending ?? 0,
    due: row?.due ?? 0,
    oldestPendingAgeSeconds: Math.max(0, row?.oldest_pending_age ?? 0),
    oldestDueLagSeconds: Math.max(0, row?.oldest_due_lag ?? 0),
  };
}
