import { createHash } from "node:crypto";
import type { Db, Queryable } from "../../adapters/db/types.ts";
import { ApiError } from "../../http/problem.ts";
import type { TenantScope } from "../orders/store.ts";

/** How long a completed response is replayed (Stripe's contract: at least 24 hours). */
export const idempotencyRetentionHours = 24;

export interface StoredResponse {
  status: number;
  body: unknown;
}

/** Stable JSON (object keys sorted) so that the same body with reordered keys is the same request. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

export function requestFingerprint(method: string, path: string, body: unknown): string {
  return createHash("sha256")
    .update(`${method} ${path}\n${canonicalJson(body)}`)
    .digest("hex");
}

/**
 * SQL for a transaction-scoped advisory try-lock on one (tenant, mode, key): true when this transaction now holds
 * it, false at once when another transaction does. Whoever runs a key's operation holds it until that
 * transaction ends, which is how a concurrent request with the same key gets 409 `idempotency_in_progress`
 * instead of waiting on the unique index for the first transaction to finish. The two-integer form keeps these
 * locks apart from the single-bigint locks other code takes; a hash collision between two keys only costs a
 * retried 409. The arguments are SQL expressions (parameters).
 */
export function idempotencyTryLockSql(tenantId: string, mode: string, key: string): string {
  return `pg_try_advisory_xact_lock(${idempotencyLockSpace}, hashtext(${tenantId}::text || ':' || ${mode}::text || ':' || ${key}::text))`;
}
const idempotencyLockSpace = 2002;

export function idempotencyInProgress(): ApiError {
  return new ApiError(
    "idempotency_in_progress",
    "The first request with this Idempotency-Key has not finished yet. Retry in a moment.",
    {},
    { "retry-after": "1" },
  );
}

/**
 * What a request finds when its key already has a record: the recorded response to replay, a 422 for another
 * request, a 409 for a first attempt still running (only a service of an earlier version commits a claim before
 * its operation), or `free` once a record that no longer counts is deleted: past the replay window, or a claim
 * abandoned by a crashed first attempt of the same request (`locked_until` passed).
 */
export async function resolveTakenKey(
  db: Queryable,
  scope: TenantScope,
  key: string,
  fingerprint: string,
): Promise<{ kind: "replay"; response: StoredResponse } | { kind: "free" }> {
  const { rows } = await db.query<{
    request_fingerprint: string;
    response_status: number | null;
    response_body: unknown;
    stale: boolean;
  }>(
    `select request_fingerprint, response_status,
            coalesce(response_json, response_body::json) as response_body,
            created_at < now() - make_interval(hours => $4)
              or (response_status is null and locked_until < now() and request_fingerprint = $5) as stale
       from idempotency_keys where tenant_id = $1 and mode = $2 and key = $3`,
    [scope.tenantId, scope.mode, key, idempotencyRetentionHours, fingerprint],
  );
  const existing = rows[0];
  if (!existing) return { kind: "free" };
  if (existing.stale) {
    await db.query(
      `delete from idempotency_keys
        where tenant_id = $1 and mode = $2 and key = $3
          and (created_at < now() - make_interval(hours => $4)
               or (response_status is null and locked_until < now() and request_fingerprint = $5))`,
      [scope.tenantId, scope.mode, key, idempotencyRetentionHours, fingerprint],
    );
    return { kind: "free" };
  }
  if (existing.request_fingerprint !== fingerprint) {
    throw new ApiError(
      "idempotency_key_reused",
      "This Idempotency-Key was first used with a different request. Use a new key for a new request.",
    );
  }
  if (existing.response_status === null) throw idempotencyInProgress();
  return { kind: "replay", response: { status: existing.response_status, body: existing.response_body } };
}

/**
 * Runs `operation` at most once per (tenant, mode, Idempotency-Key), with the semantics integrators know from
 * Stripe: the same key and the same request replays the first response; the same key with another request is a
 * 422; a request while the first one is still running is a 409. See docs/decisions/0002-idempotency.md.
 *
 * The key is claimed inside the operation's own transaction, under the key's advisory lock: claim, operation and
 * recorded response commit together (one commit per request, not two), and a failed or crashed operation leaves
 * no claim behind, so a corrected retry can run at once. (`POST /v1/orders/create` goes further and does all of it
 * in one statement: `createOrderOnce`.)
 */
export async function runIdempotent(
  db: Db,
  scope: TenantScope,
  key: string,
  fingerprint: string,
  operation: (tx: Queryable) => Promise<StoredResponse>,
): Promise<StoredResponse & { replayed: boolean }> {
  // Twice at most: a second pass only follows a stale record removed by resolveTakenKey.
  for (let pass = 0; pass < 2; pass++) {
    const outcome = await db.transaction(async (tx) => {
      const { rows } = await tx.query<{ held: boolean; claimed: boolean }>(
        `with lock as (select ${idempotencyTryLockSql("$1", "$2", "$3")} as held),
              claim as (
                insert into idempotency_keys (tenant_id, mode, key, request_fingerprint)
                select $1::uuid, $2, $3, $4 from lock where held
                on conflict (tenant_id, mode, key) do nothing
                returning key
              )
         select held, exists (select 1 from claim) as claimed from lock`,
        [scope.tenantId, scope.mode, key, fingerprint],
      );
      if (!rows[0]?.held) throw idempotencyInProgress();
      if (!rows[0].claimed) return null;
      const response = await operation(tx);
      await tx.query(
        `update idempotency_keys set response_status = $4, response_json = $5
          where tenant_id = $1 and mode = $2 and key = $3`,
        [scope.tenantId, scope.mode, key, response.status, JSON.stringify(response.body)],
      );
      return response;
    });
    if (outcome) return { ...outcome, replayed: false };
    const taken = await resolveTakenKey(db, scope, key, fingerprint);
    if (taken.kind === "replay") return { ...taken.response, replayed: true };
  }
  throw idempotencyInProgress();
}

/** Deletes records past their replay window. Called periodically by the service. */
export async function pruneIdempotencyKeys(db: Queryable): Promise<number> {
  const result = await db.query(
    "delete from idempotency_keys where created_at < now() - make_interval(hours => $1)",
    [idempotencyRetentionHours],
  );
  return result.rowCount;
}
