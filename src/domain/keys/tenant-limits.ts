import type { Queryable } from "../../adapters/db/types.ts";
import { isUuid } from "./store.ts";

/**
 * Changes the tenant's plan and/or its own per-minute override (null clears it, back to the plan's). Every
 * instance picks the change up at once: the tenants trigger notifies the key caches.
 */
export async function setTenantRateLimit(
  db: Queryable,
  tenantId: string,
  change: { plan?: string; perMinute?: number | null },
): Promise<{ id: string; plan: string; rate_limit_per_minute: number | null } | null> {
  if (!isUuid(tenantId)) return null;
  const { rows } = await db.query<{ id: string; plan: string; rate_limit_per_minute: number | null }>(
    `update tenants
        set plan = coalesce($2, plan),
            rate_limit_per_minute = case when $3 then $4::integer else rate_limit_per_minute end
      where id = $1
      returning id, plan, rate_limit_per_minute`,
    [tenantId, change.plan ?? null, change.perMinute !== undefined, change.perMinute ?? null],
  );
  return rows[0] ?? null;
}
