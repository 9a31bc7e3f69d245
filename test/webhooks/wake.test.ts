import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { loadMigrations, migrate } from "../../src/adapters/db/migrate.ts";
import { clientQueryable } from "../../src/adapters/db/postgres.ts";
import type { Db } from "../../src/adapters/db/types.ts";
import { createTenant } from "../../src/domain/tenants/store.ts";
import { type Dispatcher, startDispatcher, webhookChannel } from "../../src/domain/webhooks/dispatcher.ts";
import type { Services } from "../../src/services.ts";
import { createTestContext, type TestContext } from "../support/app.ts";
import { dbKinds, openTestDb } from "../support/db.ts";
import { insertOrdersWithSql, type Receiver, startReceiver, waitFor } from "./support.ts";

/**
 * How event transactions wake the dispatchers (migration 0007): at most one of the transactions committing together
 * sends the NOTIFY, and the dispatcher looks again after every claim that found work, so the ones that skipped
 * theirs are delivered without waiting for the safety poll. The poll is 10 minutes here: a delivery that depended
 * on it would never arrive within a test.
 */

/** The advisory lock a transaction holds while its NOTIFY is on its way (0007). */
const wakeLock = "select pg_advisory_xact_lock(74220511, 1)";

describe.each(dbKinds)("waking the webhook dispatchers on %s", (kind) => {
  let t: TestContext | undefined;
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await t?.close();
    t = undefined;
  });

  async function setup(env: Record<string, string> = {}) {
    t = await createTestContext(kind, {
      env: { WEBHOOK_ALLOW_PRIVATE_URLS: "true", WEBHOOK_POLL_INTERVAL: "10m", ...env },
    });
    return t;
  }

  async function subscribedTenant(ctx: TestContext, url: string) {
    const tenant = await ctx.newTenant();
    const res = await ctx.request("/v1/webhooks/subscribe", {
      method: "POST",
      key: tenant.apiKey,
      json: { url, events: ["*"] },
    });
    expect(res.status).toBe(201);
    return tenant;
  }

  async function receiver(): Promise<Receiver> {
    const r = await startReceiver();
    cleanups.push(() => r.close());
    return r;
  }

  /** Counts the notifications on the dispatchers' channel, as a dispatcher's listener receives them. */
  async function countNotifications(db: Db): Promise<{ readonly count: number }> {
    const seen = { count: 0 };
    const unlisten = await db.listen(webhookChannel, () => seen.count++);
    cleanups.push(unlisten);
    return seen;
  }

  /** A raw client on the test database (postgres only): another process's connection. */
  async function rawClient(ctx: TestContext): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: ctx.testDb.url! });
    await client.connect();
    cleanups.push(() => client.end());
    return client;
  }

  async function dispatcher(services: Services): Promise<Dispatcher> {
    const d = await startDispatcher(services);
    cleanups.push(() => d.stop());
    return d;
  }

  it("sends one notification per transaction that queues deliveries, and none for one that queues none", async () => {
    const ctx = await setup();
    const subscribed = await subscribedTenant(ctx, "http://127.0.0.1:9/hooks");
    const unsubscribed = await ctx.newTenant({ name: "No subscriptions" });
    const notifications = await countNotifications(ctx.services.db);
    // Notifications reach a listener in commit order: once the last one is in, any earlier one would be too.
    await insertOrdersWithSql(ctx.services.db, unsubscribed.tenantId, "test", 3);
    await insertOrdersWithSql(ctx.services.db, subscribed.tenantId, "test", 5);
    await waitFor(() => notifications.count >= 1, "the notification");
    await ctx.services.db.transaction(async (tx) => {
      await insertOrdersWithSql(tx, subscribed.tenantId, "test", 2);
      await insertOrdersWithSql(tx, subscribed.tenantId, "test", 2);
    });
    await waitFor(() => notifications.count >= 2, "the second notification");
    expect(notifications.count).toBe(2);
    const { rows } = await ctx.services.db.query<{ n: number }>(
      "select count(*)::int as n from webhook_deliveries",
    );
    expect(rows[0]!.n).toBe(9);
  });

  it("notifies for deliveries a raw writer inserts, and not for a test send's claimed row", async () => {
    const ctx = await setup();
    const tenant = await subscribedTenant(ctx, "http://127.0.0.1:9/hooks");
    const notifications = await countNotifications(ctx.services.db);
    const [sub] = (
      await ctx.services.db.query<{ id: string }>(
        "select id from webhook_subscriptions where tenant_id = $1",
        [tenant.tenantId],
      )
    ).rows;
    const insert = (event: string, claimed: boolean) =>
      ctx.services.db.query(
        `insert into webhook_deliveries (tenant_id, mode, subscription_id, event_id, event_type, body,
                                         next_attempt_at, lease_token)
         values ($1, 'test', $2, $3, 'ORDER_CREATED', '{}', now(), $4)`,
        [tenant.tenantId, sub!.id, event, claimed ? "00000000-0000-4000-8000-000000000001" : null],
      );
    await insert("evt_claimed", true);
    await insert("evt_raw", false);
    await waitFor(() => notifications.count >= 1, "the raw insert's notification");
    expect(notifications.count).toBe(1);
  });

  it.runIf(kind === "postgres")(
    "skips the NOTIFY of transactions that commit while another one's is on its way",
    async () => {
      const ctx = await setup();
      const tenant = await subscribedTenant(ctx, "http://127.0.0.1:9/hooks");
      const notifications = await countNotifications(ctx.services.db);
      // A transaction in the middle of its notifying commit holds this lock until that commit is done.
      const inFlight = await rawClient(ctx);
      await inFlight.query("begin");
      await inFlight.query(wakeLock);
      const writer = await rawClient(ctx);
      for (let i = 0; i < 5; i++)
        await insertOrdersWithSql(clientQueryable(writer), tenant.tenantId, "test", 1);
      await inFlight.query("commit");
      // The first commit after it notifies again.
      await insertOrdersWithSql(clientQueryable(writer), tenant.tenantId, "test", 1);
      await waitFor(() => notifications.count >= 1, "the notification after the lock was released");
      expect(notifications.count).toBe(1);
      const { rows } = await ctx.services.db.query<{ n: number }>(
        "select count(*)::int as n from webhook_deliveries",
      );
      expect(rows[0]!.n).toBe(6);
    },
  );

  it.runIf(kind === "postgres")(
    "decides at commit: a long transaction with queued deliveries does not silence the others",
    async () => {
      const ctx = await setup();
      const tenant = await subscribedTenant(ctx, "http://127.0.0.1:9/hooks");
      const notifications = await countNotifications(ctx.services.db);
      const long = await rawClient(ctx);
      await long.query("begin");
      await insertOrdersWithSql(clientQueryable(long), tenant.tenantId, "test", 3);
      await insertOrdersWithSql(ctx.services.db, tenant.tenantId, "test", 1);
      await waitFor(() => notifications.count >= 1, "the short transaction's notification");
      await long.query("commit");
      await waitFor(() => notifications.count >= 2, "the long transaction's notification");
      expect(notifications.count).toBe(2);
    },
  );

  it.runIf(kind === "postgres")(
    "delivers a commit that sent no NOTIFY by looking again after a claim that found work",
    async () => {
      // The look after the first claim comes 3 s later here (20 ms by default), so that the second commit, made
      // right after the first delivery, is surely before it however slow the machine; the poll never comes.
      const ctx = await setup({ WEBHOOK_RECHECK_INTERVAL: "3s" });
      const r = await receiver();
      const tenant = await subscribedTenant(ctx, r.url);
      const notifications = await countNotifications(ctx.services.db);
      await dispatcher(ctx.services);
      const writer = await rawClient(ctx);
      await insertOrdersWithSql(clientQueryable(writer), tenant.tenantId, "test", 1);
      await waitFor(() => r.received.length >= 1, "the first event, woken by its NOTIFY");
      const inFlight = await rawClient(ctx);
      await inFlight.query("begin");
      await inFlight.query(wakeLock);
      // Commits while the lock is held: no NOTIFY at all, and no other transaction will send one.
      await insertOrdersWithSql(clientQueryable(writer), tenant.tenantId, "test", 1);
      await waitFor(() => r.received.length >= 2, "the event that sent no NOTIFY");
      await inFlight.query("commit");
      await insertOrdersWithSql(clientQueryable(writer), tenant.tenantId, "test", 1);
      await waitFor(() => notifications.count >= 2 && r.received.length >= 3, "the third event");
      // The second event's transaction did not notify: only the first and the third did.
      expect(notifications.count).toBe(2);
      expect(new Set(r.received.map((x) => x.headers["webhook-id"])).size).toBe(3);
    },
  );

  it.runIf(kind === "postgres")(
    "delivers every event of 20 concurrent writers once, none waiting for the poll, with fewer notifications than commits at most",
    async () => {
      const ctx = await setup();
      const r = await receiver();
      const tenant = await subscribedTenant(ctx, r.url);
      const notifications = await countNotifications(ctx.services.db);
      const d = await dispatcher(ctx.services);
      const writers = 20;
      const perWriter = 25;
      const clients = await Promise.all(Array.from({ length: writers }, () => rawClient(ctx)));
      await Promise.all(
        clients.map(async (client) => {
          for (let i = 0; i < perWriter; i++) {
            await insertOrdersWithSql(clientQueryable(client), tenant.tenantId, "test", 1);
          }
        }),
      );
      const total = writers * perWriter;
      await waitFor(() => r.received.length >= total, "every event", 60_000);
      const ids = r.received.map((x) => x.headers["webhook-id"]);
      expect(new Set(ids).size).toBe(total);
      expect(ids).toHaveLength(total);
      expect(d.counters.claimed).toBe(total);
      expect(notifications.count).toBeLessThanOrEqual(total);
      // How many commits skipped their NOTIFY depends on how much they overlapped on this machine.
      console.info(
        `wake.test: ${total} commits from ${writers} writers sent ${notifications.count} notifications`,
      );
    },
  );

  it("is applied to a database migrated before it, after 0090, and wakes from then on", async () => {
    const testDb = await openTestDb(kind, { migrate: false });
    cleanups.push(() => testDb.close());
    const all = await loadMigrations();
    const earlier = all.filter((m) => m.version !== "0007");
    expect(earlier.at(-1)!.version).toBe("0090");
    await migrate(testDb.db, earlier);
    expect((await migrate(testDb.db)).applied).toEqual(["0007_webhook_wake_once"]);
    const { tenant } = await createTenant(testDb.db, { name: "Upgraded", mode: "test" });
    await testDb.db.query(
      `insert into webhook_subscriptions (tenant_id, mode, url, events, secret)
       values ($1, 'test', 'http://127.0.0.1:9/hooks', '{*}', 'whsec_dGVzdA==')`,
      [tenant.id],
    );
    const notifications = await countNotifications(testDb.db);
    await insertOrdersWithSql(testDb.db, tenant.id, "test", 2);
    await waitFor(() => notifications.count >= 1, "the notification");
    expect(notifications.count).toBe(1);
  });

  it("makes no query while idle, and goes quiet again after a burst", async () => {
    const ctx = await setup();
    const r = await receiver();
    const tenant = await subscribedTenant(ctx, r.url);
    let queries = 0;
    const counted: Db = {
      ...ctx.services.db,
      kind: ctx.services.db.kind,
      query: (text, params) => {
        queries++;
        return ctx.services.db.query(text, params);
      },
      transaction: (fn) => {
        queries++;
        return ctx.services.db.transaction(fn);
      },
      listen: (channel, onNotify) => ctx.services.db.listen(channel, onNotify),
    };
    await dispatcher({ ...ctx.services, db: counted });
    // Its first look (a claim that finds nothing, then the earliest due time) and then nothing until the poll.
    await waitFor(() => queries >= 2, "the dispatcher's first look");
    const quiet = async () => {
      const before = queries;
      await new Promise((resolve) => setTimeout(resolve, 300));
      return queries === before;
    };
    expect(await quiet()).toBe(true);
    await insertOrdersWithSql(ctx.services.db, tenant.tenantId, "test", 3);
    await waitFor(() => r.received.length >= 3, "the burst");
    // It looks again a few times after the burst, then stops for good.
    await waitFor(quiet, "the dispatcher to go quiet after the burst");
    expect(await quiet()).toBe(true);
  });
});
