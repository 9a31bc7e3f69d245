import type { Db, Queryable } from "../../adapters/db/types.ts";
import { displayPrefix, generateApiKey, hashApiKey, type KeyMode } from "./format.ts";
import type { Scope } from "./scopes.ts";

export interface ApiKeyRecord {
  id: string;
  tenant_id: string;
  mode: KeyMode;
  name: string | null;
  display_prefix: string;
  scopes: Scope[];
  rate_limit_per_minute: number | null;
  created_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
  replaced_by: string | null;
}

/** The tenant and mode a caller acts in: every key operation over the API is confined to both. */
export interface KeyScope {
  tenantId: string;
  mode: KeyMode;
}

const keyColumns =
  "id, tenant_id, mode, name, display_prefix, scopes, rate_limit_per_minute, created_at, expires_at, revoked_at, last_used_at, replaced_by";
const keyColumnsOf = (alias: string) =>
  keyColumns
    .split(", ")
    .map((column) => `${alias}.${column}`)
    .join(", ");

/** Who did it, as the audit log records it: `cli`, `system`, or `api_key:<id>` of the calling key. */
export type Actor = string;

export interface CreateKeyInput {
  tenantId: string;
  mode: KeyMode;
  scopes: Scope[];
  name?: string | null;
  expiresAt?: Date | null;
  rateLimitPerMinute?: number | null;
  /** Recorded in the audit log; `system` when omitted (a tenant's first key). */
  actor?: Actor;
  /** Extra audit details (a rotation says which key this one replaces). */
  auditDetails?: Record<string, unknown>;
}

/**
 * Creates a key and returns it in clear text once: only its SHA-256 is stored. The audit record is written by the
 * same statement, so a key never exists without one, whether or not the caller runs in a transaction.
 */
export async function createApiKey(
  db: Queryable,
  input: CreateKeyInput,
): Promise<{ key: ApiKeyRecord; apiKey: string }> {
  const apiKey = generateApiKey(input.mode);
  const { rows } = await db.query<ApiKeyRecord>(
    `with created as (
       insert into api_keys (tenant_id, mode, name, key_hash, display_prefix, scopes, expires_at, rate_limit_per_minute)
       values ($1, $2, $3, $4, $5, $6, $7, $8)
       returning ${keyColumns}
     ), audit as (
       insert into key_audit_log (tenant_id, mode, key_id, action, actor, details)
       select tenant_id, mode, id, 'created', $9,
              $10::jsonb || jsonb_build_object('scopes', to_jsonb(scopes), 'name', name,
                'expires_at', expires_at, 'rate_limit_per_minute', rate_limit_per_minute)
         from created
     )
     select * from created`,
    [
      input.tenantId,
      input.mode,
      input.name ?? null,
      hashApiKey(apiKey),
      displayPrefix(apiKey),
      input.scopes,
      input.expiresAt ?? null,
      input.rateLimitPerMinute ?? null,
      input.actor ?? "system",
      JSON.stringify(input.auditDetails ?? {}),
    ],
  );
  return { key: rows[0]!, apiKey };
}

/** A tenant's keys, oldest first; only those of one mode when `mode` is given (what a key of that mode may see). */
export async function listApiKeys(db: Queryable, tenantId: string, mode?: KeyMode): Promise<ApiKeyRecord[]> {
  const { rows } = await db.query<ApiKeyRecord>(
    `select ${keyColumns} from api_keys
      where tenant_id = $1 and ($2::text is null or mode = $2::text)
      order by created_at, id`,
    [tenantId, mode ?? null],
  );
  return rows;
}

/**
 * One page of a scope's keys, oldest first, for the API's cursor pagination. The cursor is the last key's id: its
 * exact `created_at` (microseconds, which a JavaScript Date cannot hold) is read back in the same query. An id
 * outside the scope matches nothing and yields an empty page.
 */
export async function listApiKeysPage(
  db: Queryable,
  scope: KeyScope,
  options: { limit: number; afterId?: string },
): Promise<{ rows: ApiKeyRecord[]; nextAfterId: string | null }> {
  const { rows } = await db.query<ApiKeyRecord>(
    `select ${keyColumns} from api_keys
      where tenant_id = $1 and mode = $2
        and ($3::uuid is null or (created_at, id) > (
          select created_at, id from api_keys where id = $3::uuid and tenant_id = $1 and mode = $2))
      order by created_at, id
      limit $4`,
    [scope.tenantId, scope.mode, options.afterId ?? null, options.limit + 1],
  );
  const page = rows.slice(0, options.limit);
  return { rows: page, nextAfterId: rows.length > options.limit ? (page.at(-1)?.id ?? null) : null };
}

export function encodeKeyCursor(afterId: string): string {
  return Buffer.from(`k:${afterId}`).toString("base64url");
}

export function decodeKeyCursor(cursor: string): string | null {
  const match = /^k:([0-9a-f-]{36})$/.exec(Buffer.from(cursor, "base64url").toString("utf8"));
  return match && isUuid(match[1]!) ? match[1]! : null;
}

export async function getApiKey(db: Queryable, keyId: string): Promise<ApiKeyRecord | null> {
  if (!isUuid(keyId)) return null;
  const { rows } = await db.query<ApiKeyRecord>(`select ${keyColumns} from api_keys where id = $1`, [keyId]);
  return rows[0] ?? null;
}

/** A key of this tenant and mode, or null: another tenant's key (or the other mode's) does not exist for you. */
export async function getScopedApiKey(
  db: Queryable,
  scope: KeyScope,
  keyId: string,
): Promise<ApiKeyRecord | null> {
  if (!isUuid(keyId)) return null;
  const { rows } = await db.query<ApiKeyRecord>(
    `select ${keyColumns} from api_keys where id = $1 and tenant_id = $2 and mode = $3`,
    [keyId, scope.tenantId, scope.mode],
  );
  return rows[0] ?? null;
}

export interface RevokeOptions {
  /** Only a key of this tenant (and mode, when given) is revoked; others are "not found". */
  tenantId?: string;
  mode?: KeyMode;
  actor?: Actor;
}

/**
 * Revokes a key (idempotent: revoking twice keeps the first time and audits once). Returns null when there is no
 * such key. Every instance drops the key from its cache through the NOTIFY the table's trigger sends.
 */
export async function revokeApiKey(
  db: Queryable,
  keyId: string,
  options: RevokeOptions = {},
): Promise<ApiKeyRecord | null> {
  if (!isUuid(keyId)) return null;
  const { rows } = await db.query<ApiKeyRecord>(
    `with target as (
       select id, revoked_at as was_revoked_at from api_keys
        where id = $1 and ($2::uuid is null or tenant_id = $2::uuid) and ($3::text is null or mode = $3::text)
        for update
     ), revoked as (
       update api_keys k set revoked_at = coalesce(k.revoked_at, now())
         from target where k.id = target.id
       returning ${keyColumnsOf("k")}, target.was_revoked_at
     ), audit as (
       insert into key_audit_log (tenant_id, mode, key_id, action, actor)
       select tenant_id, mode, id, 'revoked', $4 from revoked where was_revoked_at is null
     )
     select ${keyColumns} from revoked`,
    [keyId, options.tenantId ?? null, options.mode ?? null, options.actor ?? "cli"],
  );
  return rows[0] ?? null;
}

/** The longest grace period a rotation may give the old key. */
export const maxRotationGraceSeconds = 30 * 24 * 3600;

export type RotateResult =
  | { kind: "rotated"; old: ApiKeyRecord; key: ApiKeyRecord; apiKey: string }
  | { kind: "not_found" }
  | { kind: "inactive"; old: ApiKeyRecord }
  | { kind: "already_rotated"; old: ApiKeyRecord };

/**
 * Issues a new key with the old one's tenant, mode, name, scopes, limit and expiry, and lets the old one work for
 * `graceSeconds` more (0 revokes it at once). The old key's expiry only ever moves earlier: a rotation never
 * extends a key's life. Both changes and their audit records commit together.
 */
export async function rotateApiKey(
  db: Db,
  keyId: string,
  options: { graceSeconds: number; now: Date; actor?: Actor; tenantId?: string; mode?: KeyMode },
): Promise<RotateResult> {
  if (!isUuid(keyId)) return { kind: "not_found" };
  if (!Number.isInteger(options.graceSeconds) || options.graceSeconds < 0) {
    throw new RangeError("graceSeconds must be a non-negative integer");
  }
  if (options.graceSeconds > maxRotationGraceSeconds) {
    throw new RangeError(`graceSeconds must be at most ${maxRotationGraceSeconds}`);
  }
  const actor = options.actor ?? "cli";
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<ApiKeyRecord>(
      `select ${keyColumns} from api_keys
        where id = $1 and ($2::uuid is null or tenant_id = $2::uuid) and ($3::text is null or mode = $3::text)
        for update`,
      [keyId, options.tenantId ?? null, options.mode ?? null],
    );
    const old = rows[0];
    if (!old) return { kind: "not_found" };
    if (old.revoked_at || (old.expires_at && old.expires_at <= options.now)) return { kind: "inactive", old };
    // One successor per key: rotating a key in its grace period again would mint keys without bound.
    if (old.replaced_by) return { kind: "already_rotated", old };
    const { key, apiKey } = await createApiKey(tx, {
      tenantId: old.tenant_id,
      mode: old.mode,
      scopes: old.scopes,
      name: old.name,
      expiresAt: old.expires_at,
      rateLimitPerMinute: old.rate_limit_per_minute,
      actor,
      auditDetails: { rotated_from: old.id },
    });
    const graceEnd = new Date(options.now.getTime() + options.graceSeconds * 1000);
    const updated = await tx.query<ApiKeyRecord>(
      `update api_keys
          set replaced_by = $2,
              expires_at = case when expires_at is null or expires_at > $3 then $3 else expires_at end,
              revoked_at = case when $4 then coalesce(revoked_at, now()) else revoked_at end
        where id = $1
        returning ${keyColumns}`,
      [old.id, key.id, graceEnd, options.graceSeconds === 0],
    );
    const rotated = updated.rows[0]!;
    await tx.query(
      `insert into key_audit_log (tenant_id, mode, key_id, action, actor, details)
       values ($1, $2, $3, 'rotated', $4, $5)`,
      [
        old.tenant_id,
        old.mode,
        old.id,
        actor,
        JSON.stringify({
          replaced_by: key.id,
          grace_seconds: options.graceSeconds,
          old_key_valid_until: rotated.revoked_at ? rotated.revoked_at : rotated.expires_at,
        }),
      ],
    );
    return { kind: "rotated", old: rotated, key, apiKey };
  });
}

/** Sets (or, with null, clears) a key's own per-minute limit. Null when there is no such key. */
export async function setApiKeyRateLimit(
  db: Queryable,
  keyId: string,
  perMinute: number | null,
  options: { actor?: Actor; tenantId?: string } = {},
): Promise<ApiKeyRecord | null> {
  if (!isUuid(keyId)) return null;
  const { rows } = await db.query<ApiKeyRecord>(
    `with updated as (
       update api_keys set rate_limit_per_minute = $2
        where id = $1 and ($3::uuid is null or tenant_id = $3::uuid)
       returning ${keyColumns}
     ), audit as (
       insert into key_audit_log (tenant_id, mode, key_id, action, actor, details)
       select tenant_id, mode, id, 'updated', $4, jsonb_build_object('rate_limit_per_minute', $2::integer)
         from updated
     )
     select * from updated`,
    [keyId, perMinute, options.tenantId ?? null, options.actor ?? "cli"],
  );
  return rows[0] ?? null;
}

export interface VerifiedKey {
  keyId: string;
  tenantId: string;
  tenantName: string;
  plan: string;
  mode: KeyMode;
  scopes: Scope[];
  /** The key's own per-minute limit, else its tenant's, else null (the plan's, or the service default). */
  rateLimitPerMinute: number | null;
  expiresAt: Date | null;
}

/**
 * Finds a key that is not revoked and not expired at `now` by the hash of the presented key. `now` comes from the
 * caller's clock so that the cache, which re-checks expiry on every hit, and the database agree.
 */
export async function findActiveKeyByHash(
  db: Queryable,
  keyHash: string,
  now: Date = new Date(),
): Promise<VerifiedKey | null> {
  const { rows } = await db.query<{
    id: string;
    tenant_id: string;
    tenant_name: string;
    plan: string;
    mode: KeyMode;
    scopes: Scope[];
    rate_limit_per_minute: number | null;
    expires_at: Date | null;
  }>(
    `select k.id, k.tenant_id, t.name as tenant_name, t.plan, k.mode, k.scopes, k.expires_at,
            coalesce(k.rate_limit_per_minute, t.rate_limit_per_minute) as rate_limit_per_minute
       from api_keys k join tenants t on t.id = k.tenant_id
      where k.key_hash = $1 and k.revoked_at is null and (k.expires_at is null or k.expires_at > $2)`,
    [keyHash, now],
  );
  const row = rows[0];
  if (!row) return null;
  return {
    keyId: row.id,
    tenantId: row.tenant_id,
    tenantName: row.tenant_name,
    plan: row.plan,
    mode: row.mode,
    scopes: row.scopes,
    rateLimitPerMinute: row.rate_limit_per_minute,
    expiresAt: row.expires_at,
  };
}

/** What changed since `since` (by the database's clock), for the verification cache's safety-net poll. */
export async function authChangesSince(
  db: Queryable,
  since: Date | null,
): Promise<{ now: Date; keyIds: string[]; tenantIds: string[] }> {
  const { rows } = await db.query<{ kind: "now" | "key" | "tenant"; id: string | null; at: Date }>(
    `select 'now' as kind, null::uuid as id, clock_timestamp() as at
     union all
     select 'key', id, auth_changed_at from api_keys where $1::timestamptz is not null and auth_changed_at > $1
     union all
     select 'tenant', id, auth_changed_at from tenants where $1::timestamptz is not null and auth_changed_at > $1`,
    [since],
  );
  const now = rows.find((row) => row.kind === "now")!.at;
  return {
    now,
    keyIds: rows.filter((row) => row.kind === "key").map((row) => row.id!),
    tenantIds: rows.filter((row) => row.kind === "tenant").map((row) => row.id!),
  };
}

/**
 * Writes the latest use of many keys in one statement (the batched flush behind `last_used_at`). A time never
 * moves backwards, so two instances flushing in either order leave the later one.
 */
export async function recordKeyUsage(db: Queryable, usage: ReadonlyMap<string, Date>): Promise<number> {
  if (usage.size === 0) return 0;
  const ids = [...usage.keys()];
  const times = ids.map((id) => usage.get(id)!.toISOString());
  const { rowCount } = await db.query(
    `update api_keys k set last_used_at = u.used_at
       from unnest($1::uuid[], $2::timestamptz[]) as u(id, used_at)
      where k.id = u.id and (k.last_used_at is null or k.last_used_at < u.used_at)`,
    [ids, times],
  );
  return rowCount;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Ids are UUIDs: anything else cannot match, and must not reach Postgres as a cast error. */
export function isUuid(value: string): boolean {
  return uuidPattern.test(value);
}
