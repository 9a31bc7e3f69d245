import type { Queryable } from "../../../src/adapters/db/types.ts";

/**
 * Clears the "dispatcher poked" mark (table `cellvi_dispatcher_pokes`, migration 0090) as a batch starts, so the
 * next delivery queued by another transaction pokes the dispatcher again instead of waiting for the schedule.
 */
export async function resetDispatcherPoke(db: Queryable): Promise<void> {
  await db.query("update cellvi_dispatcher_pokes set poked_at = '-infinity' where singleton");
}
