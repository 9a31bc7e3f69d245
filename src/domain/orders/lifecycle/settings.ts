import type { Queryable } from "../../../adapters/db/types.ts";
import { isUuid } from "../../keys/store.ts";

/** The bounds the database enforces too (tenants_nearby_radius_check in migration 0002). */
export const nearbyRadiusBounds = { min: 10, max: 50_000 } as const;

/**
 * The tenant's NEARBY radius in metres: `tenants.settings.nearby_radius_m` when set, else the service default
 * (`NEARBY_RADIUS_M`, 1,000 m). A setting rather than a column: it is one of several per-tenant preferences the
 * settings document already holds, and absent means "follow the default" if the default ever changes.
 */
export async function nearbyRadiusFor(db: Queryable, tenantId: string, defaultM: number): Promise<number> {
  const { rows } = await db.query<{ radius: number | null }>(
    "select (settings ->> 'nearby_radius_m')::float8 as radius from tenants where id = $1",
    [tenantId],
  );
  return rows[0]?.radius ?? defaultM;
}

/** Sets (or, with null, clears) the tenant's NEARBY radius. False when there is no such tenant. */
export async function setNearbyRadius(
  db: Queryable,
  tenantId: string,
  meters: number | null,
): Promise<boolean> {
  if (!isUuid(tenantId)) return false;
  if (meters !== null && !(meters >= nearbyRadiusBounds.min && meters <= nearbyRadiusBounds.max)) {
    throw new RangeError(
      `The NEARBY radius must be between ${nearbyRadiusBounds.min} and ${nearbyRadiusBounds.max} metres.`,
    );
  }
  const result = await db.query(
    meters === null
      ? "update tenants set settings = settings - 'nearby_radius_m' where id = $1"
      : "update tenants set settings = jsonb_set(settings, '{nearby_radius_m}', to_jsonb($2::float8)) where id = $1",
    meters === null ? [tenantId] : [tenantId, meters],
  );
  return result.rowCount > 0;
}
