import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import type { Queryable } from "../../src/adapters/db/types.ts";
import { claimDueDeliveries } from "../../src/domain/webhooks/queue.ts";
import { dbKinds, openTestDb, type TestDb } from "../support/db.ts";

/** A parameter as an SQL literal (what EXECUTE takes): the claim's dates, numbers, text, and arrays of them. */
function literal(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "number") return String(value);
  if (value instanceof Date) return literal(value.toISOString());
  if (Array.isArray(value)) {
    return literal(
      `{${value.map((item) => `"${String(item).replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`)}}`,
    );
  }
  return `'${String(value).replaceAll("'", "''")}'`;
}

/**
 * Runs every parameterised statement as a server-side prepared statement, as the pg adapter does with its named
 * statements (PGlite's are unnamed, planned afresh each time): a statement keeps the plan made at its first
 * execution, on both engines.
 */
function preparing(tx: Queryable): Queryable {
  const names = new Map<string, string>();
  return {
    async query<Row>(text: string, params: readonly unknown[] = []) {
      if (params.length === 0) return tx.query<Row>(text);
      let name = names.get(text);
      if (!name) {
        name = `claim_plan_check_${names.size}`;
        await tx.exec(`prepare ${name} as ${text}`);
        names.set(text, name);
      }
      return tx.query<Row>(`execute ${name} (${params.map(literal).join(", ")})`);
    },
    exec: (text) => tx.exec(text),
  };
}

/**
 * Index entries and table rows that scans of the deliveries table have read in this transaction so far
 * (PostgreSQL's per-transaction statistics counters: what any plan reads, whatever its shape).
 */
async function deliveryRowsRead(tx: Queryable): Promise<number> {
  const { rows } = await tx.query<{ read: number }>(
    `select coalesce(sum(pg_stat_get_xact_tuples_returned(c.oid)), 0)::int as read
       from pg_class c
      where c.oid = $1::regclass
         or c.oid in (select indexrelid from pg_index where indrelid = $1::regclass)`,
    ["webhook_deliveries"],
  );
  return rows[0]!.read;
}

/**
 * The claim's plan is made once and kept (a named prepared statement's generic plan; PL/pgSQL's plan of the claim
 * function), and on a new database it is made while the deliveries table is empty. Such a plan must not read the
 * whole due backlog when the scan finds fewer claimable rows than the claim's limit.
 */
describe.each(dbKinds)("the webhook claim's plan on %s", (kind) => {
  let t: TestDb | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it("reads about its scan limit, not the due backlog, with plans made on an empty table", async () => {
    t = await openTestDb(kind);
    const db = t.db;
    const tenant = randomUUID();
    await db.query("insert into tenants (id, name) values ($1, 'claim plan')", [tenant]);
    const { rows } = await db.query<{ id: string }>(
      `insert into webhook_subscriptions (tenant_id, mode, url, events, secret)
       values ($1, 'live', 'https://example.com/hooks', '{*}', 'whsec_x') returning id`,
      [tenant],
    );
    const busy = rows[0]!.id;
    const perEndpoint = 8;
    const scanLimit = 100;
    await db.transaction(async (tx) => {
      // The plan a named statement keeps after its first five executions, made at the first one here.
      await tx.exec("set local plan_cache_mode = force_generic_plan");
      const prepared = preparing(tx);
      const claim = () =>
        claimDueDeliveries(prepared, {
          now: new Date(),
          limit: 50,
          leaseMs: 60_000,
          perEndpoint,
          // One free slot: the scan finds the backlog, and the claim may take one delivery of it.
          inFlight: new Map([[busy, perEndpoint - 1]]),
          scanLimit,
          leaseToken: randomUUID(),
        });
      for (let i = 0; i < 6; i++) expect(await claim()).toEqual([]);

      // A backlog 30 times the scan limit, all due.
      await tx.query(
        `insert into webhook_deliveries (tenant_id, mode, subscription_id, event_id, event_type, body, next_attempt_at)
         select $1, 'live', $2, 'evt_' || n, 'ORDER_CREATED', '{}', now() - interval '1 hour' + n * interval '1 ms'
           from generate_series(1, $3::int) n`,
        [tenant, busy, 30 * scanLimit],
      );
      const before = await deliveryRowsRead(tx);
      const claimed = await claim();
      const read = (await deliveryRowsRead(tx)) - before;

      expect(claimed.map((delivery) => delivery.event_id)).toEqual(["evt_1"]);
      // The scan's rows, then the claimed row by its key; not the 3,000 due rows.
      expect(read).toBeGreaterThanOrEqual(scanLimit);
      expect(read).toBeLessThanOrEqual(scanLimit + 10);
    });
  });

  it("hands the claimed deliveries back oldest first", async () => {
    t = await openTestDb(kind);
    const db = t.db;
    const tenant = randomUUID();
    await db.query("insert into tenants (id, name) values ($1, 'claim order')", [tenant]);
    const { rows: subscriptions } = await db.query<{ id: string }>(
      `insert into webhook_subscriptions (tenant_id, mode, url, events, secret)
       select $1, 'live', 'https://example.com/hooks', '{*}', 'whsec_x' from generate_series(1, 2) returning id`,
      [tenant],
    );
    // Ids are random, so their order is not the due order.
    await db.query(
      `insert into webhook_deliveries (tenant_id, mode, subscription_id, event_id, event_type, body, next_attempt_at)
       select $1, 'live', ($2::text[])[1 + n % 2], 'evt_' || lpad(n::text, 2, '0'), 'ORDER_CREATED', '{}',
              now() - interval '1 hour' + n * interval '1 second'
         from generate_series(1, 24) n`,
      [tenant, subscriptions.map((s) => s.id)],
    );
    const claimed = await claimDueDeliveries(db, {
      now: new Date(),
      limit: 20,
      leaseMs: 60_000,
      perEndpoint: 32,
      leaseToken: randomUUID(),
    });
    expect(claimed.map((delivery) => delivery.event_id)).toEqual(
      Array.from({ length: 20 }, (_, i) => `evt_${String(i + 1).padStart(2, "0")}`),
    );
  });
});
