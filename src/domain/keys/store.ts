import type { Queryable } from "../../adapters/db/types.ts";
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
}

const keyColumns =
  "id, tenant_id, mode, name, display_prefix, scopes, rate_limit_per_minute, created_at, expires_at, revoked_at, last_used_at";

export interface CreateKeyInput {
  tenantId: string;
  mode: KeyMode;
  scopes: Scope[];
  name?: string | null;
  expiresAt?: Date | null;
  rateLimitPerMinute?: number | null;
}

/** Creates a key and returns it in clear text once: only its hash is stored. */
export async function createApiKey(
  db: Queryable,
  input: CreateKeyInput,
): Promise<{ key: ApiKeyRecord; apiKey: string }> {
  const apiKey = generateApiKey(input.mode);
  const { rows } = await db.query<ApiKeyRecord>(
    `insert into api_keys (tenant_id, mode, name, key_hash, display_prefix, scopes, expires_at, rate_limit_per_minute)
     values ($1, $2, $3, $4, $5, $6, $7, $8)
     returning ${keyColumns}`,
    [
      input.tenantId,
      input.mode,
      input.name ?? null,
      hashApiKey(apiKey),
      displayPrefix(apiKey),
      input.scopes,
      input.expiresAt ?? null,
      input.rateLimitPerMinute ?? null,
    ],
  );
  return { key: rows[0]!, apiKey };
}

export async function listApiKeys(db: Queryable, tenantId: string): Promise<ApiKeyRecord[]> {
  const { rows } = await db.query<ApiKeyRecord>(
    `select ${keyColumns} from api_keys where tenant_id = $1 order by created_at, id`,
    [tenantId],
  );
  return rows;
}

export async function getApiKey(db: Queryable, keyId: string): Promise<ApiKeyRecord | null> {
  if (!isUuid(keyId)) return null;
  const { rows } = await db.query<ApiKeyRecord>(`select ${keyColumns} from api_keys where id = $1`, [keyId]);
  return rows[0] ?? null;
}

/** Revokes a key (idempotent: revoking twice keeps the first time). Returns null when there is no such key. */
export async function revokeApiKey(
  db: Queryable,
  keyId: string,
  tenantId?: string,
): Promise<ApiKeyRecord | null> {
  if (!isUuid(keyId)) return null;
  const { rows } = await db.query<ApiKeyRecord>(
    `update api_keys set revoked_at = coalesce(revoked_at, now())
     where id = $1 and ($2::uuid is null or tenant_id = $2::uuid)
     returning ${keyColumns}`,
    [keyId, tenantId ?? null],
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
  /** The effective per-minute limit: the key's own, else the tenant's, else null (the service default). */
  rateLimitPerMinute: number | null;
  expiresAt: Date | null;
}

/** Finds an active (not revoked, not expired) key by the hash of the presented key. */
export async function findActiveKeyByHash(db: Queryable, keyHash: string): Promise<VerifiedKey | null> {
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
      where k.key_hash = $1 and k.revoked_at is null and (k.expires_at is null or k.expires_at > now())`,
    [keyHash],
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

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Ids are UUIDs: anything else cannot match, and must not reach Postgres as a cast error. */
export function isUuid(value: string): boolean {
  return uuidPattern.test(value);
}
