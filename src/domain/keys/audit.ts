import type { Queryable } from "../../adapters/db/types.ts";
import type { KeyMode } from "./format.ts";

export interface KeyAuditRecord {
  id: number;
  tenant_id: string;
  mode: KeyMode;
  key_id: string;
  action: "created" | "rotated" | "revoked" | "updated";
  actor: string;
  details: Record<string, unknown>;
  occurred_at: Date;
}

/**
 * A tenant's key audit records, newest first, one mode or both. `before` is the id of the last record of the
 * previous page (ids only grow, so pages never skip or repeat a record).
 */
export async function listKeyAudit(
  db: Queryable,
  tenantId: string,
  options: { mode?: KeyMode; limit: number; before?: number },
): Promise<{ rows: KeyAuditRecord[]; nextBefore: number | null }> {
  const { rows } = await db.query<KeyAuditRecord>(
    `select id, tenant_id, mode, key_id, action, actor, details, occurred_at
       from key_audit_log
      where tenant_id = $1 and ($2::text is null or mode = $2::text) and ($3::bigint is null or id < $3::bigint)
      order by id desc
      limit $4`,
    [tenantId, options.mode ?? null, options.before ?? null, options.limit + 1],
  );
  const page = rows.slice(0, options.limit);
  return { rows: page, nextBefore: rows.length > options.limit ? page.at(-1)!.id : null };
}
