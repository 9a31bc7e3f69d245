import { Buffer } from "node:buffer";
import { randomUUID } from "node:crypto";
import type { Queryable } from "../../adapters/db/types.ts";
import type { Services } from "../../services.ts";
import type { TenantScope } from "../orders/store.ts";
import { type AttemptReport, attemptDelivery } from "./attempt.ts";
import { webhookChannel } from "./dispatcher.ts";
import { testEventType } from "./event-types.ts";
import { type ClaimedDelivery, recordAttemptOutcomes } from "./queue.ts";
import { secretWaitBounds } from "./retry-policy.ts";
import { webhookSecretOpener } from "./sealed-secrets.ts";
import { webhookSettings } from "./settings.ts";
import type { SubscriptionRow } from "./subscriptions.ts";

export type DeliveryStatus = "pending" | "succeeded" | "failed";

export interface DeliveryRow {
  id: string;
  seq: number;
  tenant_id: string;
  mode: TenantScope["mode"];
  subscription_id: string;
  event_id: string;
  event_type: string;
  body: string;
  status: DeliveryStatus;
  attempts: number;
  max_attempts: number | null;
  next_attempt_at: Date | null;
  lease_token: string | null;
  last_attempt_at: Date | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: Date;
  completed_at: Date | null;
}

export interface AttemptRow {
  id: number;
  delivery_id: string;
  attempt: number;
  attempted_at: Date;
  duration_ms: number;
  outcome: "succeeded" | "failed";
  status_code: number | null;
  error: string | null;
  response_body: string | null;
  next_attempt_at: Date | null;
}

export interface DeliveryWithAttempts extends DeliveryRow {
  attempt_log: AttemptRow[];
  /**
   * Since when the delivery's subscription waits for its signing secret (`secret_unopened_since`, migration 0012:
   * set by an attempt not sent because the secret could not be opened, cleared by the next one sent); null otherwise.
   */
  secret_unopened_since: Date | null;
}

/** The deliveries' columns and their subscription's secret wait (see `DeliveryWithAttempts`). */
const deliveryColumns = `d.*, (select s.secret_unopened_since from webhook_subscriptions s
                                where s.id = d.subscription_id) as secret_unopened_since`;

/** Cursors are opaque to clients: base64url of the keyset position. */
export function encodeDeliveryCursor(seq: number): string {
  return Buffer.from(`d:${seq}`).toString("base64url");
}

export function decodeDeliveryCursor(cursor: string): number | null {
  const match = /^d:(\d{1,15})$/.exec(Buffer.from(cursor, "base64url").toString("utf8"));
  return match ? Number(match[1]) : null;
}

/** A subscription's deliveries, newest first, each with its attempts (oldest first). */
export async function listDeliveries(
  db: Queryable,
  scope: TenantScope,
  subscriptionId: string,
  query: {
    limit: number;
    cursor?: number | undefined;
    status?: DeliveryStatus | undefined;
    eventId?: string | undefined;
    eventType?: string | undefined;
  },
): Promise<{ rows: DeliveryWithAttempts[]; nextCursor: number | null }> {
  const { rows } = await db.query<DeliveryRow & { secret_unopened_since: Date | null }>(
    `select ${deliveryColumns} from webhook_deliveries d
      where d.subscription_id = $1 and d.tenant_id = $2 and d.mode = $3
        and ($4::bigint is null or d.seq < $4::bigint)
        and ($5::text is null or d.status = $5::text)
        and ($6::text is null or d.event_id = $6::text)
        and ($7::text is null or d.event_type = $7::text)
      order by d.seq desc
      limit $8`,
    [
      subscriptionId,
      scope.tenantId,
      scope.mode,
      query.cursor ?? null,
      query.status ?? null,
      query.eventId ?? null,
      query.eventType ?? null,
      query.limit + 1,
    ],
  );
  const hasMore = rows.length > query.limit;
  const page = hasMore ? rows.slice(0, query.limit) : rows;
  const attempts =
    page.length === 0
      ? []
      : (
          await db.query<AttemptRow>(
            "select * from webhook_attempts where delivery_id = any($1::text[]) order by delivery_id, id",
            [page.map((row) => row.id)],
          )
        ).rows;
  const byDelivery = new Map<string, AttemptRow[]>();
  for (const attempt of attempts) {
    const list = byDelivery.get(attempt.delivery_id) ?? [];
    list.push(attempt);
    byDelivery.set(attempt.delivery_id, list);
  }
  return {
    rows: page.map((row) => ({ ...row, attempt_log: byDelivery.get(row.id) ?? [] })),
    nextCursor: hasMore ? page[page.length - 1]!.seq : null,
  };
}

export async function getDeliveryWithAttempts(
  db: Queryable,
  scope: TenantScope,
  id: string,
): Promise<DeliveryWithAttempts | null> {
  const { rows } = await db.query<DeliveryRow & { secret_unopened_since: Date | null }>(
    `select ${deliveryColumns} from webhook_deliveries d where d.id = $1 and d.tenant_id = $2 and d.mode = $3`,
    [id, scope.tenantId, scope.mode],
  );
  const row = rows[0];
  if (!row) return null;
  const attempts = await db.query<AttemptRow>(
    "select * from webhook_attempts where delivery_id = $1 order by id",
    [id],
  );
  return { ...row, attempt_log: attempts.rows };
}

export type RetryResult =
  | { kind: "queued"; delivery: DeliveryRow }
  | { kind: "not_found" }
  | { kind: "already_pending" }
  | { kind: "subscription_disabled" };

/**
 * Queues one more attempt of a finished delivery, due now, with the same stored body (and so the same
 * `webhook-id`). A manual retry is a single attempt: if it fails, the delivery is failed again, not rescheduled.
 */
export async function retryDelivery(
  db: Services["db"],
  scope: TenantScope,
  id: string,
  now: Date,
): Promise<RetryResult> {
  return db.transaction(async (tx) => {
    const found = await tx.query<DeliveryRow & { enabled: boolean }>(
      `select d.*, s.enabled from webhook_deliveries d join webhook_subscriptions s on s.id = d.subscription_id
        where d.id = $1 and d.tenant_id = $2 and d.mode = $3
        for update of d`,
      [id, scope.tenantId, scope.mode],
    );
    const row = found.rows[0];
    if (!row) return { kind: "not_found" as const };
    if (row.status === "pending") return { kind: "already_pending" as const };
    if (!row.enabled) return { kind: "subscription_disabled" as const };
    const { rows } = await tx.query<DeliveryRow>(
      `update webhook_deliveries set status = 'pending', next_attempt_at = $2, max_attempts = attempts + 1,
              lease_token = null, completed_at = null
        where id = $1 returning *`,
      [id, now],
    );
    await tx.query("select pg_notify($1, '')", [webhookChannel]);
    return { kind: "queued" as const, delivery: rows[0]! };
  });
}

export interface TestSendResult {
  delivery: DeliveryRow;
  report: AttemptReport;
}

/**
 * Sends a signed `WEBHOOK_TEST` event to one subscription now, in the caller's request, and records it in the
 * delivery log like any other attempt. It is written straight as a claimed delivery (never through the outbox, so
 * no other subscription receives it) and is not retried automatically; it can be retried by hand.
 */
export async function sendTestEvent(
  services: Services,
  scope: TenantScope,
  subscription: SubscriptionRow,
): Promise<TestSendResult> {
  const settings = webhookSettings(services.config);
  const now = services.clock.now();
  const eventId = `evt_${randomUUID().replaceAll("-", "")}`;
  const body = JSON.stringify({
    type: testEventType,
    timestamp: now.toISOString(),
    data: {
      subscription_id: subscription.id,
      message:
        "A test event from CELLVI Connect. Answer with any 2xx status to confirm that your endpoint works.",
    },
  });
  const leaseToken = randomUUID();
  const { rows } = await services.db.query<DeliveryRow>(
    `insert into webhook_deliveries (tenant_id, mode, subscription_id, event_id, event_type, body, attempts,
                                     max_attempts, next_attempt_at, lease_token)
     values ($1, $2, $3, $4, $5, $6, 1, 1, $7::timestamptz + $8 * interval '1 millisecond', $9)
     returning *`,
    [
      scope.tenantId,
      scope.mode,
      subscription.id,
      eventId,
      testEventType,
      body,
      now,
      settings.leaseMs,
      leaseToken,
    ],
  );
  const delivery = rows[0]!;
  const claimed: ClaimedDelivery = {
    id: delivery.id,
    tenant_id: delivery.tenant_id,
    subscription_id: subscription.id,
    event_id: eventId,
    event_type: testEventType,
    body,
    attempts: 1,
    max_attempts: 1,
    created_at: delivery.created_at,
    lease_token: leaseToken,
    url: subscription.url,
    secret: subscription.secret,
    previous_secret: subscription.previous_secret,
    previous_secret_expires_at: subscription.previous_secret_expires_at,
    failing_since: subscription.failing_since,
  };
  const report = await attemptDelivery(claimed, {
    sender: services.webhookSender,
    clock: services.clock,
    timeoutMs: settings.timeoutMs,
    policy: settings.policy,
    secrets: webhookSecretOpener(services.config, services.db.kind),
  });
  await recordAttemptOutcomes(services.db, [report.record], {
    now: services.clock.now(),
    disableAfterMs: settings.policy.disableAfterMs,
    secretWaitMaxMs: secretWaitBounds(settings.policy).maxMs,
    leaseMs: settings.leaseMs,
  });
  const after = await services.db.query<DeliveryRow>("select * from webhook_deliveries where id = $1", [
    delivery.id,
  ]);
  return { delivery: after.rows[0] ?? delivery, report };
}
