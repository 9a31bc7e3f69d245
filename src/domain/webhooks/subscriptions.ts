import { randomUUID } from "node:crypto";
import type { Db, Queryable } from "../../adapters/db/types.ts";
import type { Keyring } from "../connectors/secret-box.ts";
import type { TenantScope } from "../orders/store.ts";
import { webhookEventTypes } from "./event-types.ts";
import { openWebhookSecret, sealWebhookSecret } from "./sealed-secrets.ts";

export type DisabledReason = "manual" | "endpoint_gone" | "failing";

export interface SubscriptionRow {
  id: string;
  tenant_id: string;
  mode: TenantScope["mode"];
  url: string;
  events: string[];
  description: string | null;
  enabled: boolean;
  disabled_reason: DisabledReason | null;
  disabled_at: Date | null;
  /** Sealed (`v1.`, see sealed-secrets.ts), or a plain `whsec_` value written before sealing. */
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: Date | null;
  failing_since: Date | null;
  seq: number;
  created_at: Date;
  updated_at: Date;
}

/** A tenant may keep this many subscriptions per mode: enough for every system it runs, small enough to fan out. */
export const maxSubscriptionsPerTenant = 50;

/** `*` alone, or the named types once each in their canonical order. */
export function normalizeEventFilter(events: readonly string[]): string[] {
  if (events.includes("*")) return ["*"];
  return webhookEventTypes.filter((type) => events.includes(type));
}

export type CreateSubscriptionResult =
  | { kind: "created"; subscription: SubscriptionRow }
  | { kind: "limit_reached" };

/** `secret` is the plain `whsec_` value; the row stores it sealed, bound to the new subscription's id. */
export async function createSubscription(
  db: Db,
  keyring: Keyring,
  scope: TenantScope,
  input: { url: string; events: readonly string[]; description?: string | null; secret: string },
): Promise<CreateSubscriptionResult> {
  // The id is made here, not by the column default, because the sealed secret is bound to it.
  const id = `wh_${randomUUID().replaceAll("-", "")}`;
  const sealed = sealWebhookSecret(keyring, id, "secret", input.secret);
  return db.transaction(async (tx) => {
    // Serialises creations per tenant and mode, so two concurrent requests cannot both pass the limit check.
    await tx.query("select pg_advisory_xact_lock(hashtext('webhook_subscriptions:' || $1 || ':' || $2))", [
      scope.tenantId,
      scope.mode,
    ]);
    const count = await tx.query<{ n: number }>(
      "select count(*)::int as n from webhook_subscriptions where tenant_id = $1 and mode = $2",
      [scope.tenantId, scope.mode],
    );
    if ((count.rows[0]?.n ?? 0) >= maxSubscriptionsPerTenant) return { kind: "limit_reached" as const };
    const { rows } = await tx.query<SubscriptionRow>(
      `insert into webhook_subscriptions (id, tenant_id, mode, url, events, description, secret)
       values ($7, $1, $2, $3, $4, $5, $6) returning *`,
      [
        scope.tenantId,
        scope.mode,
        input.url,
        normalizeEventFilter(input.events),
        input.description ?? null,
        sealed,
        id,
      ],
    );
    return { kind: "created" as const, subscription: rows[0]! };
  });
}

export async function getSubscription(
  db: Queryable,
  scope: TenantScope,
  id: string,
): Promise<SubscriptionRow | null> {
  const { rows } = await db.query<SubscriptionRow>(
    "select * from webhook_subscriptions where id = $1 and tenant_id = $2 and mode = $3",
    [id, scope.tenantId, scope.mode],
  );
  return rows[0] ?? null;
}

/** Oldest first, keyset-paginated on `seq`. */
export async function listSubscriptions(
  db: Queryable,
  scope: TenantScope,
  query: { limit: number; cursor?: number | undefined },
): Promise<{ rows: SubscriptionRow[]; nextCursor: number | null }> {
  const { rows } = await db.query<SubscriptionRow>(
    `select * from webhook_subscriptions
      where tenant_id = $1 and mode = $2 and ($3::bigint is null or seq > $3::bigint)
      order by seq
      limit $4`,
    [scope.tenantId, scope.mode, query.cursor ?? null, query.limit + 1],
  );
  const hasMore = rows.length > query.limit;
  const page = hasMore ? rows.slice(0, query.limit) : rows;
  return { rows: page, nextCursor: hasMore ? page[page.length - 1]!.seq : null };
}

export interface SubscriptionPatch {
  url?: string | undefined;
  events?: readonly string[] | undefined;
  description?: string | null | undefined;
  enabled?: boolean | undefined;
}

/**
 * Applies a PATCH. Disabling ends the subscription's queued deliveries (failed, retryable by hand once it is enabled
 * again); enabling clears the reason and the failure streak, so a re-enabled endpoint gets the full grace period.
 */
export async function updateSubscription(
  db: Db,
  scope: TenantScope,
  id: string,
  patch: SubscriptionPatch,
  now: Date,
): Promise<SubscriptionRow | null> {
  return db.transaction(async (tx) => {
    const current = await tx.query<SubscriptionRow>(
      "select * from webhook_subscriptions where id = $1 and tenant_id = $2 and mode = $3 for update",
      [id, scope.tenantId, scope.mode],
    );
    const row = current.rows[0];
    if (!row) return null;
    const enabling = patch.enabled === true && !row.enabled;
    const disabling = patch.enabled === false && row.enabled;
    const { rows } = await tx.query<SubscriptionRow>(
      `update webhook_subscriptions set
         url = coalesce($2, url),
         events = coalesce($3, events),
         description = case when $4::boolean then $5 else description end,
         enabled = coalesce($6, enabled),
         disabled_reason = case when $7::boolean then 'manual' when $8::boolean then null else disabled_reason end,
         disabled_at = case when $7::boolean then $9::timestamptz when $8::boolean then null else disabled_at end,
         failing_since = case when $8::boolean then null else failing_since end,
         updated_at = $9::timestamptz
       where id = $1
       returning *`,
      [
        id,
        patch.url ?? null,
        patch.events ? normalizeEventFilter(patch.events) : null,
        patch.description !== undefined,
        patch.description ?? null,
        patch.enabled ?? null,
        disabling,
        enabling,
        now,
      ],
    );
    if (disabling) {
      await failPendingDeliveries(
        tx,
        [id],
        "The subscription was disabled before this delivery was sent.",
        now,
      );
    }
    return rows[0] ?? null;
  });
}

export async function deleteSubscription(db: Queryable, scope: TenantScope, id: string): Promise<boolean> {
  const result = await db.query(
    "delete from webhook_subscriptions where id = $1 and tenant_id = $2 and mode = $3",
    [id, scope.tenantId, scope.mode],
  );
  return result.rowCount > 0;
}

/**
 * Makes `newSecret` (plain) the signing secret. The secret it replaces keeps signing until `now + overlapMs`, so
 * receivers that have not switched yet keep verifying. A rotation during an overlap drops the oldest secret. Both are
 * stored sealed; the old one is opened and sealed again because its binding names the column it is in. Throws
 * `SecretBoxError` when the current secret cannot be opened (the key it was sealed with is not configured).
 */
export async function rotateSubscriptionSecret(
  db: Db,
  keyring: Keyring,
  scope: TenantScope,
  id: string,
  newSecret: string,
  now: Date,
  overlapMs: number,
): Promise<SubscriptionRow | null> {
  return db.transaction(async (tx) => {
    const found = await tx.query<{ secret: string }>(
      "select secret from webhook_subscriptions where id = $1 and tenant_id = $2 and mode = $3 for update",
      [id, scope.tenantId, scope.mode],
    );
    const row = found.rows[0];
    if (!row) return null;
    const replaced = openWebhookSecret(keyring, id, "secret", row.secret);
    const { rows } = await tx.query<SubscriptionRow>(
      `update webhook_subscriptions set
         previous_secret = $3,
         previous_secret_expires_at = $4::timestamptz + $5 * interval '1 millisecond',
         secret = $2,
         updated_at = $4::timestamptz
       where id = $1
       returning *`,
      [
        id,
        sealWebhookSecret(keyring, id, "secret", newSecret),
        sealWebhookSecret(keyring, id, "previous_secret", replaced),
        now,
        overlapMs,
      ],
    );
    return rows[0] ?? null;
  });
}

/** Ends the queued (not in-flight) deliveries of disabled subscriptions: nobody would send them. */
export async function failPendingDeliveries(
  tx: Queryable,
  subscriptionIds: readonly string[],
  reason: string,
  now: Date,
): Promise<number> {
  if (subscriptionIds.length === 0) return 0;
  const result = await tx.query(
    `update webhook_deliveries set status = 'failed', next_attempt_at = null, last_error = $2, completed_at = $3
      where subscription_id = any($1::text[]) and status = 'pending' and lease_token is null`,
    [subscriptionIds, reason, now],
  );
  return result.rowCount;
}
