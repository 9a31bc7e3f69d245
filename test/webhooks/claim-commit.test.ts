import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { clientQueryable } from "../../src/adapters/db/postgres.ts";
import type { Queryable } from "../../src/adapters/db/types.ts";
import { claimDueDeliveries } from "../../src/domain/webhooks/queue.ts";
import { dbKinds, openTestDb, type TestDb } from "../support/db.ts";

/**
 * A claim is on every delivery's path, and its commit need not wait for the disk: undone by a crash of PostgreSQL,
 * its deliveries are due again and sent again, as they would be once a flushed claim's lease ran out. So the claim's
 * transaction commits with `synchronous_commit = off`, and only that transaction: the pooled connection keeps its
 * own setting for whatever runs on it next (an event's commit, an outcome write).
 */
describe.each(dbKinds)("the webhook claim's commit on %s", (kind) => {
  let t: TestDb | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  const dueDelivery = async (db: Queryable) => {
    const tenant = randomUUID();
    await db.query("insert into tenants (id, name) values ($1, 'claim commit')", [tenant]);
    const { rows } = await db.query<{ id: string }>(
      `insert into webhook_subscriptions (tenant_id, mode, url, events, secret)
       values ($1, 'live', 'https://example.com/hooks', '{*}', 'whsec_x') returning id`,
      [tenant],
    );
    await db.query(
      `insert into webhook_deliveries (tenant_id, mode, subscription_id, event_id, event_type, body, next_attempt_at)
       values ($1, 'live', $2, $3, 'ORDER_CREATED', '{}', now() - interval '1 minute')`,
      [tenant, rows[0]!.id, `evt_${randomUUID()}`],
    );
  };
  const claim = (db: Queryable) =>
    claimDueDeliveries(db, {
      now: new Date(),
      limit: 10,
      leaseMs: 60_000,
      perEndpoint: 16,
      leaseToken: randomUUID(),
    });
  const setting = async (db: Queryable) =>
    (
      await db.query<{ value: string }>("select current_setting('synchronous_commit') as value where $1", [
        true,
      ])
    ).rows[0]!.value;

  it("does not wait for the WAL flush, and leaves the connection's own setting for what runs on it next", async () => {
    t = await openTestDb(kind);
    await dueDelivery(t.db);
    const inClaim = await t.db.transaction(async (tx) => {
      expect(await claim(tx)).toHaveLength(1);
      return setting(tx);
    });
    expect(inClaim).toBe("off");

    await dueDelivery(t.db);
    // The same connection before and after: the embedded engine has one; on a server, one client of our own.
    const client = t.url ? new pg.Client({ connectionString: t.url }) : undefined;
    await client?.connect();
    try {
      const db = client ? clientQueryable(client) : t.db;
      const before = await setting(db);
      expect(await claim(db)).toHaveLength(1);
      expect(await setting(db)).toBe(before);
    } finally {
      await client?.end();
    }
  });
});
