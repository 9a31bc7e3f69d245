import type { Db } from "../../adapters/db/types.ts";
import type { KeyMode } from "../keys/format.ts";
import { customerScopes } from "../keys/scopes.ts";
import { type ApiKeyRecord, createApiKey, isUuid } from "../keys/store.ts";

export interface TenantRecord {
  id: string;
  name: string;
  plan: string;
  rate_limit_per_minute: number | null;
  settings: Record<string, unknown>;
  created_at: Date;
}

const tenantColumns = "id, name, plan, rate_limit_per_minute, settings, created_at";

/** Creates a tenant and its first key (all customer scopes, not `ops`) in one transaction. */
export async function createTenant(
  db: Db,
  input: { name: string; mode?: KeyMode; plan?: string },
): Promise<{ tenant: TenantRecord; key: ApiKeyRecord; apiKey: string }> {
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<TenantRecord>(
      `insert into tenants (name, plan) values ($1, $2) returning ${tenantColumns}`,
      [input.name, input.plan ?? "default"],
    );
    const tenant = rows[0]!;
    const { key, apiKey } = await createApiKey(tx, {
      tenantId: tenant.id,
      mode: input.mode ?? "test",
      scopes: customerScopes,
      name: "first key",
    });
    return { tenant, key, apiKey };
  });
}

export async function getTenant(db: Db, id: string): Promise<TenantRecord | null> {
  if (!isUuid(id)) return null;
  const { rows } = await db.query<TenantRecord>(`select ${tenantColumns} from tenants where id = $1`, [id]);
  return rows[0] ?? null;
}

export async function listTenants(db: Db): Promise<TenantRecord[]> {
  const { rows } = await db.query<TenantRecord>(
    `select ${tenantColumns} from tenants order by created_at, id`,
  );
  return rows;
}
