import { createHash } from "node:crypto";
import type { Db, Queryable } from "../../adapters/db/types.ts";
import { ApiError } from "../../http/problem.ts";
import type { TenantScope } from "../orders/store.ts";

/** How long a first request may hold its key before another request with the same key may take it over. */
const lockSeconds = 60;
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
 * Runs `operation` at most once per (tenant, mode, Idempotency-Key), with the semantics integrators know from
 * Stripe: the same key and the same request replays the first response; the same key with another request is a
 * 422; a request while the first one is still running is a 409. The response is recorded in the operation's own
 * transaction, so "order created" and "response recorded" commit together. A failed operation releases the key.
 */
export async function runIdempotent(
  db: Db,
  scope: TenantScope,
  key: string,
  fingerprint: string,
  operation: (tx: Queryable) => Promise<StoredResponse>,
): Promise<StoredResponse & { replayed: boolean }> {
  // The claim commits without waiting for its WAL flush (synchronous_commit off for this one statement, through
  // set_config(..., true) in its own implicit transaction): alone on the bench it ran about 3x faster that way.
  // Still safe: the operation's transaction below commits synchronously, and flushing its commit record flushes
  // all earlier WAL, the claim's included. A crash can only lose a claim whose operation never committed, which
  // is the same as the key never having been claimed, and that is what a retry then finds.
  const claimed = await db.query(
    `insert into idempotency_keys (tenant_id, mode, key, request_fingerprint, locked_until)
     select $1, $2, $3, $4, now() + make_interval(secs => $5)
       from (select set_config('synchronous_commit', 'off', true)) as durability
     on conflict (tenant_id, mode, key) do update
        set request_fingerprint = excluded.request_fingerprint, locked_until = excluded.locked_until,
            response_status = null, response_body = null, created_at = now()
      -- Only an expired record, or a crashed first attempt of the same request, may be taken over.
      where idempotency_keys.created_at < now() - make_interval(hours => $6)
         or (idempotency_keys.response_status is null and idempotency_keys.locked_until < now()
             and idempotency_keys.request_fingerprint = excluded.request_fingerprint)
     returning key`,
    [scope.tenantId, scope.mode, key, fingerprint, lockSeconds, idempotencyRetentionHours],
  );
  if (claimed.rowCount === 0) {
    const { rows } = await db.query<{
      request_fingerprint: string;
      response_status: number | null;
      response_body: unknown;
    }>(
      "select request_fingerprint, response_status, response_body from idempotency_keys where tenant_id = $1 and mode = $2 and key = $3",
      [scope.tenantId, scope.mode, key],
    );
    const existing = rows[0];
    if (!existing) throw new ApiError("idempotency_in_progress", "Retry the request.");
    if (existing.request_fingerprint !== fingerprint) {
      throw new ApiError(
        "idempotency_key_reused",
        "This Idempotency-Key was first used with a different request. Use a new key for a new request.",
      );
    }
    if (existing.response_status === null) {
      throw new ApiError(
        "idempotency_in_progress",
        "The first request with this Idempotency-Key has not finished yet. Retry in a moment.",
        {},
        { "retry-after": "1" },
      );
    }
    return { status: existing.response_status, body: existing.response_body, replayed: true };
  }
  try {
    return await db.transaction(async (tx) => {
      const response = await operation(tx);
      await tx.query(
        `update idempotency_keys set response_status = $4, response_body = $5, locked_until = null
          where tenant_id = $1 and mode = $2 and key = $3`,
        [scope.tenantId, scope.mode, key, response.status, JSON.stringify(response.body)],
      );
      return { ...response, replayed: false };
    });
  } catch (error) {
    await db
      .query(
        "delete from idempotency_keys where tenant_id = $1 and mode = $2 and key = $3 and response_status is null",
        [scope.tenantId, scope.mode, key],
      )
      .catch(() => {});
    throw error;
  }
}

/** Deletes records past their replay window. Called periodically by the service. */
export async function pruneIdempotencyKeys(db: Queryable): Promise<number> {
  const result = await db.query(
    "delete from idempotency_keys where created_at < now() - make_interval(hours => $1)",
    [idempotencyRetentionHours],
  );
  return result.rowCount;
}
