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

/**
 * One subscription (an endpoint down for hours) with a due backlog far deeper than the claim's scan: the other
 * subscriptions' deliveries due behind it are claimed by the next claim, whichever it is, and what a claim reads does
 * not grow with that backlog (migration 0013). Plans made on an empty table, or after the table was analysed while
 * the backlog filled it (its statistics then say one subscription holds every row).
 */
describe.each(dbKinds)("the webhook claim behind one subscription's deep backlog on %s", (kind) => {
  let t: TestDb | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  const perEndpoint = 8;
  const scanLimit = 100;

  async function subscriptions(db: Queryable, tenant: string, count: number): Promise<string[]> {
    const { rows } = await db.query<{ id: string }>(
      `insert into webhook_subscriptions (tenant_id, mode, url, events, secret)
       select $1, 'live', 'https://example.com/hooks/' || n, '{*}', 'whsec_x' from generate_series(1, $2::int) n
       returning id`,
      [tenant, count],
    );
    return rows.map((row) => row.id);
  }

  /** `count` due deliveries of one subscription, from an hour ago, event ids `${prefix}1`, `${prefix}2`, ... */
  async function backlog(
    db: Queryable,
    tenant: string,
    subscription: string,
    count: number,
    prefix = "evt_",
  ) {
    await db.query(
      `insert into webhook_deliveries (tenant_id, mode, subscription_id, event_id, event_type, body, next_attempt_at)
       select $1, 'live', $2, $4 || n, 'ORDER_CREATED', '{}', now() - interval '1 hour' + n * interval '1 ms'
         from generate_series(1, $3::int) n`,
      [tenant, subscription, count, prefix],
    );
  }

  /** One delivery of each subscription, due a minute ago: behind the backlog in due order. */
  async function dueBehind(db: Queryable, tenant: string, subscriptionIds: string[], prefix: string) {
    await db.query(
      `insert into webhook_deliveries (tenant_id, mode, subscription_id, event_id, event_type, body, next_attempt_at)
       select $1, 'live', s.id, $3 || s.n, 'ORDER_CREATED', '{}', now() - interval '1 minute' + s.n * interval '1 ms'
         from unnest($2::text[]) with ordinality as s(id, n)`,
      [tenant, subscriptionIds, prefix],
    );
  }

  /** Another subscription's finished deliveries: a plan reaching pending rows through another index reads these. */
  async function finished(db: Queryable, tenant: string, subscription: string) {
    await db.query(
      `insert into webhook_deliveries (tenant_id, mode, subscription_id, event_id, event_type, body, status,
                                       completed_at)
       select $1, 'live', $2, 'evt_done_' || n, 'ORDER_CREATED', '{}', 'succeeded', now()
         from generate_series(1, 1000) n`,
      [tenant, subscription],
    );
  }

  /** A lease token (and so the walk's start) at `fraction` of the id space. */
  const tokenAt = (fraction: number) =>
    `${Math.floor(fraction * 0xffffffff)
      .toString(16)
      .padStart(8, "0")}-0000-4000-8000-000000000000`;

  async function claimReading(
    tx: Queryable,
    options: { busy: string; inFlight: number; limit?: number; scanLimit?: number; leaseToken?: string },
  ) {
    const before = await deliveryRowsRead(tx);
    const claimed = await claimDueDeliveries(tx, {
      now: new Date(),
      limit: options.limit ?? 50,
      leaseMs: 60_000,
      perEndpoint,
      inFlight: new Map([[options.busy, options.inFlight]]),
      scanLimit: options.scanLimit ?? scanLimit,
      leaseToken: options.leaseToken ?? randomUUID(),
    });
    return { claimed, read: (await deliveryRowsRead(tx)) - before };
  }

  for (const plans of ["made on an empty table", "made after the backlog was analysed"] as const) {
    it(`a claim with a free slot for the backlog's subscription also takes another's delivery behind it (plans ${plans})`, async () => {
      t = await openTestDb(kind);
      const db = t.db;
      const tenant = randomUUID();
      await db.query("insert into tenants (id, name) values ($1, 'fair claim')", [tenant]);
      const [busy, other, done] = (await subscriptions(db, tenant, 3)) as [string, string, string];
      await db.transaction(async (tx) => {
        await tx.exec("set local plan_cache_mode = force_generic_plan");
        const prepared = preparing(tx);
        if (plans === "made on an empty table") {
          for (let i = 0; i < 6; i++)
            expect((await claimReading(prepared, { busy, inFlight: 0 })).claimed).toEqual([]);
        }
        await finished(tx, tenant, done);
        await backlog(tx, tenant, busy, 30 * scanLimit);
        if (plans === "made after the backlog was analysed") await tx.exec("analyze webhook_deliveries");
        // The other subscription has a delivery due before the backlog too (its endpoint was down a while as well):
        // the scan takes that one, and the claim must find its next one behind the backlog.
        await tx.query(
          `insert into webhook_deliveries (tenant_id, mode, subscription_id, event_id, event_type, body, next_attempt_at)
           values ($1, 'live', $2, 'evt_early', 'ORDER_CREATED', '{}', now() - interval '2 hours')`,
          [tenant, other],
        );
        await dueBehind(tx, tenant, [other], "evt_other_");

        // A freed slot: the claim skips nothing, its scan finds only the backlog (and the early delivery), and it may
        // take one row of the backlog.
        const freed = await claimReading(prepared, { busy, inFlight: perEndpoint - 1 });
        expect(freed.claimed.map((delivery) => delivery.event_id)).toEqual([
          "evt_early",
          "evt_1",
          "evt_other_1",
        ]);
        // The scan, one step per subscription with pending rows, the rows claimed by key.
        expect(freed.read).toBeLessThanOrEqual(scanLimit + 20);

        // The backlog's subscription saturated: the claim skips it, and reads no more for that.
        await dueBehind(tx, tenant, [other], "evt_later_");
        const paced = await claimReading(prepared, { busy, inFlight: perEndpoint });
        expect(paced.claimed.map((delivery) => delivery.event_id)).toEqual(["evt_later_1"]);
        expect(paced.read).toBeLessThanOrEqual(scanLimit + 20);
      });
    });
  }

  it("what a claim skipping a saturated subscription reads does not grow with its backlog", async () => {
    t = await openTestDb(kind);
    const db = t.db;
    const tenant = randomUUID();
    await db.query("insert into tenants (id, name) values ($1, 'fair claim')", [tenant]);
    const [busy, other] = (await subscriptions(db, tenant, 2)) as [string, string];
    await db.transaction(async (tx) => {
      await tx.exec("set local plan_cache_mode = force_generic_plan");
      const prepared = preparing(tx);
      for (let i = 0; i < 6; i++)
        expect((await claimReading(prepared, { busy, inFlight: 0 })).claimed).toEqual([]);

      const reads: number[] = [];
      for (const [round, rows] of [
        [1, 10 * scanLimit],
        [2, 40 * scanLimit],
      ] as const) {
        await backlog(tx, tenant, busy, rows, `evt_${round}_`);
        await dueBehind(tx, tenant, [other], `evt_other_${round}_`);
        const { claimed, read } = await claimReading(prepared, { busy, inFlight: perEndpoint });
        expect(claimed.map((delivery) => delivery.event_id)).toEqual([`evt_other_${round}_1`]);
        reads.push(read);
      }
      // 1,000 and then 5,000 due rows of the saturated subscription: about the same reads (the index entries of the
      // rows the first claim updated, dead to nobody yet in this transaction, are read again), not 4,000 more as
      // before 0013, whose scan read past the whole backlog.
      expect(reads[0]).toBeLessThanOrEqual(scanLimit + 10);
      expect(Math.abs(reads[1]! - reads[0]!)).toBeLessThanOrEqual(10);
    });
  });

  it("visits a bounded number of subscriptions per claim, from a start that moves, so every one is reached", async () => {
    t = await openTestDb(kind);
    const db = t.db;
    const tenant = randomUUID();
    await db.query("insert into tenants (id, name) values ($1, 'fair claim')", [tenant]);
    const [busy, ...others] = (await subscriptions(db, tenant, 151)) as [string, ...string[]];
    const claimScan = 40;
    const visits = claimScan / 4;
    await db.transaction(async (tx) => {
      await backlog(tx, tenant, busy, 10 * claimScan);
      await dueBehind(tx, tenant, others, "evt_other_");
      const claimed = new Set<string>();
      const starts = 80;
      for (let i = 0; i < starts && claimed.size < others.length; i++) {
        const { claimed: batch, read } = await claimReading(tx, {
          busy,
          inFlight: perEndpoint,
          limit: 20,
          scanLimit: claimScan,
          leaseToken: tokenAt(i / starts),
        });
        // The scan, the first and last subscriptions with pending rows, two index steps per visited subscription
        // (its oldest pending row; where more may be due), and the rows locked and updated by key; never all 150.
        expect(read).toBeLessThanOrEqual(claimScan + 2 + 2 * visits + 2 * batch.length + 2);
        expect(batch.length).toBeLessThanOrEqual(visits);
        for (const delivery of batch) {
          expect(delivery.subscription_id).not.toBe(busy);
          claimed.add(delivery.subscription_id);
        }
      }
      expect(claimed.size).toBe(others.length);
    });
  });
});
