import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import type { Db } from "../../src/adapters/db/types.ts";
import { type ClaimedDelivery, claimDueDeliveries } from "../../src/domain/webhooks/queue.ts";
import { openTestDb, type TestDb } from "../support/db.ts";

/**
 * Two workers claiming one endpoint's backlog at the same moment (migration 0014). Each claim ranks the oldest due
 * rows per subscription and takes at most what its worker may still hold; the claim that comes second finds the
 * first claim's rows locked. It takes that subscription's next due rows instead of coming back short.
 *
 * PostgreSQL only: the embedded database has one connection, so no two claims ever overlap there (its claims are
 * covered by the other webhook tests on both engines).
 */
describe("webhook claims that overlap on postgres", () => {
  let t: TestDb | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  async function backlog(db: Db, subscriptions: number, perSubscription: number) {
    const tenant = randomUUID();
    await db.query("insert into tenants (id, name) values ($1, 'claim contention')", [tenant]);
    const { rows } = await db.query<{ id: string }>(
      `insert into webhook_subscriptions (tenant_id, mode, url, events, secret)
       select $1, 'live', 'https://example.com/hooks', '{*}', 'whsec_x' from generate_series(1, $2::int)
       returning id`,
      [tenant, subscriptions],
    );
    const ids = rows.map((row) => row.id);
    // Due one second apart, the subscriptions' rows interleaved: evt_<subscription>_<n>.
    await db.query(
      `insert into webhook_deliveries (tenant_id, mode, subscription_id, event_id, event_type, body, next_attempt_at)
       select $1, 'live', ($2::text[])[s], 'evt_' || s || '_' || lpad(n::text, 2, '0'), 'ORDER_CREATED', '{}',
              now() - interval '1 hour' + (n * $3::int + s) * interval '1 second'
         from generate_series(1, $3::int) n, generate_series(1, cardinality($2::text[])) s`,
      [tenant, ids, perSubscription],
    );
    return ids;
  }

  const claim = (
    db: Parameters<typeof claimDueDeliveries>[0],
    options: { limit: number; perEndpoint: number; inFlight?: Map<string, number> },
  ) =>
    claimDueDeliveries(db, {
      now: new Date(),
      leaseMs: 60_000,
      leaseToken: randomUUID(),
      ...options,
    });

  const events = (claimed: ClaimedDelivery[]) => claimed.map((delivery) => delivery.event_id);

  it("takes the next due rows of a subscription whose first ones another claim holds", async () => {
    t = await openTestDb("postgres");
    const db = t.db;
    const [subscription] = await backlog(db, 1, 20);
    // Both workers hold 4 of this endpoint's deliveries and may hold 8: 4 more each.
    const inFlight = new Map([[subscription!, 4]]);
    let second: ClaimedDelivery[] = [];
    const first = await db.transaction(async (tx) => {
      const taken = await claim(tx, { limit: 10, perEndpoint: 8, inFlight });
      // The first claim has locked its rows and not committed: the second one runs now, on another connection.
      second = await claim(db, { limit: 10, perEndpoint: 8, inFlight });
      return taken;
    });
    expect(events(first)).toEqual(["evt_1_01", "evt_1_02", "evt_1_03", "evt_1_04"]);
    // Before 0014: [] (its 4 allowed rows were the first claim's).
    expect(events(second)).toEqual(["evt_1_05", "evt_1_06", "evt_1_07", "evt_1_08"]);
    for (const delivery of second) expect(delivery.attempts).toBe(1);

    const { rows } = await db.query<{ event_id: string; lease_token: string; attempts: number }>(
      `select event_id, lease_token, attempts from webhook_deliveries
        where lease_token is not null order by next_attempt_at, event_id`,
    );
    // Each row under exactly one claim, attempted once.
    expect(rows.map((row) => row.event_id).sort()).toEqual([...events(first), ...events(second)].sort());
    expect(new Set(rows.map((row) => row.lease_token)).size).toBe(2);
    expect(rows.every((row) => row.attempts === 1)).toBe(true);
  });

  it("keeps the per-endpoint bound, the claim's limit and the other subscriptions' turn", async () => {
    t = await openTestDb("postgres");
    const db = t.db;
    const [busy, other] = await backlog(db, 2, 12);
    let bounded: ClaimedDelivery[] = [];
    let limited: ClaimedDelivery[] = [];
    await db.transaction(async (tx) => {
      // The first claim holds busy's 3 oldest rows and other's 3 oldest.
      const first = await claim(tx, { limit: 6, perEndpoint: 3 });
      expect(events(first).sort()).toEqual(
        ["evt_1_01", "evt_1_02", "evt_1_03", "evt_2_01", "evt_2_02", "evt_2_03"].sort(),
      );
      // A worker holding 1 of busy's and none of other's, 3 each at most: 2 of busy's, 3 of other's.
      bounded = await claim(db, { limit: 10, perEndpoint: 3, inFlight: new Map([[busy!, 1]]) });
      // And one whose claim takes 3 at most: the oldest 3 of those it may take.
      limited = await claim(db, { limit: 3, perEndpoint: 3, inFlight: new Map([[busy!, 1]]) });
    });
    expect(events(bounded).sort()).toEqual(
      ["evt_1_04", "evt_1_05", "evt_2_04", "evt_2_05", "evt_2_06"].sort(),
    );
    // Oldest first: busy's two (due at 73 and 85 s), then other's next (86 s).
    expect(events(limited)).toEqual(["evt_1_06", "evt_1_07", "evt_2_07"]);
    expect(new Set([...bounded, ...limited].map((d) => d.subscription_id))).toEqual(new Set([busy, other]));
  });

  it("takes nothing of a skipped subscription, however its rows are held", async () => {
    t = await openTestDb("postgres");
    const db = t.db;
    const [subscription] = await backlog(db, 1, 10);
    let second: ClaimedDelivery[] = [];
    await db.transaction(async (tx) => {
      await claim(tx, { limit: 2, perEndpoint: 8 });
      second = await claim(db, { limit: 10, perEndpoint: 8, inFlight: new Map([[subscription!, 8]]) });
    });
    expect(second).toEqual([]);
  });
});
