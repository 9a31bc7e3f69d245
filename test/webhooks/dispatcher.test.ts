import { afterEach, describe, expect, it } from "vitest";
import { openPostgresDb } from "../../src/adapters/db/postgres.ts";
import type { Db } from "../../src/adapters/db/types.ts";
import { createWebhookSender } from "../../src/bootstrap.ts";
import { type Dispatcher, startDispatcher } from "../../src/domain/webhooks/dispatcher.ts";
import { createTestContext, type TestContext } from "../support/app.ts";
import { dbKinds } from "../support/db.ts";
import { insertOrdersWithSql, type Receiver, startReceiver, verifyWithLibrary, waitFor } from "./support.ts";

/** The same database, with `seen` told the text of every query the dispatcher sends through it (before it is sent). */
function watchingQueries(db: Db, seen: (text: string) => void): Db {
  return new Proxy(db, {
    get(target, property, receiverObject) {
      if (property === "query") {
        return (text: string, params?: unknown[]) => {
          seen(text);
          return target.query(text, params);
        };
      }
      const value = Reflect.get(target, property, receiverObject);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** The long-running dispatcher in real time, against real receivers on loopback. */
describe.each(dbKinds)("the webhook dispatcher on %s", (kind) => {
  let t: TestContext | undefined;
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await t?.close();
    t = undefined;
  });

  async function setup(env: Record<string, string> = {}) {
    t = await createTestContext(kind, {
      env: {
        WEBHOOK_ALLOW_PRIVATE_URLS: "true",
        // A poll far longer than any test: only NOTIFY and the dispatcher's own retry timer can wake it.
        WEBHOOK_POLL_INTERVAL: "10m",
        WEBHOOK_RETRY_JITTER: "0",
        ...env,
      },
    });
    return t;
  }

  async function receiver(answer?: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
    const r = await startReceiver(answer);
    cleanups.push(() => r.close());
    return r;
  }

  async function subscribe(
    ctx: TestContext,
    apiKey: string,
    url: string,
  ): Promise<{ id: string; secret: string }> {
    const res = await ctx.request("/v1/webhooks/subscribe", {
      method: "POST",
      key: apiKey,
      json: { url, events: ["*"] },
    });
    expect(res.status).toBe(201);
    return res.json();
  }

  async function dispatcher(ctx: TestContext, services = ctx.services): Promise<Dispatcher> {
    const d = await startDispatcher(services);
    cleanups.push(() => d.stop());
    return d;
  }

  it("is woken by NOTIFY and retries on the compressed schedule without waiting for the poll", async () => {
    const ctx = await setup({ WEBHOOK_RETRY_SCHEDULE: "150ms,300ms" });
    const r = await receiver((request) => ({ status: request.index < 2 ? 503 : 204 }));
    const tenant = await ctx.newTenant();
    const sub = await subscribe(ctx, tenant.apiKey, r.url);
    await dispatcher(ctx);
    await insertOrdersWithSql(ctx.services.db, tenant.tenantId, "test", 1);
    await waitFor(() => r.received.length >= 3, "three attempts");
    const [first, second, third] = r.received;
    // Never early: each retry waits at least its scheduled delay.
    expect(second!.receivedAt - first!.receivedAt).toBeGreaterThanOrEqual(150);
    expect(third!.receivedAt - second!.receivedAt).toBeGreaterThanOrEqual(300);
    expect(new Set(r.received.map((x) => x.headers["webhook-id"])).size).toBe(1);
    for (const request of r.received) verifyWithLibrary(sub.secret, request);
    await waitFor(async () => {
      const row = await ctx.services.db.query<{ status: string }>("select status from webhook_deliveries");
      return row.rows[0]?.status === "succeeded";
    }, "the delivery recorded as succeeded");
  });

  it("bounds attempts per endpoint, so a slow endpoint does not hold back the others", async () => {
    const ctx = await setup({ WEBHOOK_ENDPOINT_CONCURRENCY: "2" });
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow = await receiver(() => ({ status: 200, holdUntil: gate }));
    const fast = await receiver();
    const slowTenant = await ctx.newTenant({ name: "Slow" });
    const fastTenant = await ctx.newTenant({ name: "Fast" });
    await subscribe(ctx, slowTenant.apiKey, slow.url);
    await subscribe(ctx, fastTenant.apiKey, fast.url);
    await dispatcher(ctx);
    // The slow endpoint's backlog is queued first, so it is ahead of the fast one in due order.
    await insertOrdersWithSql(ctx.services.db, slowTenant.tenantId, "test", 12);
    await waitFor(() => slow.inFlight === 2, "the slow endpoint saturated");
    await insertOrdersWithSql(ctx.services.db, fastTenant.tenantId, "test", 12);
    await waitFor(() => fast.received.length === 12, "every fast delivery while the slow endpoint hangs");
    expect(slow.received).toHaveLength(2);
    release();
    await waitFor(() => slow.received.length === 12, "the slow endpoint's backlog after it recovers");
    expect(slow.maxInFlight).toBe(2);
  });

  it("keeps claiming as a fast endpoint's slots free up, without sleeping between claims cut short by its bound", async () => {
    // Two attempts at once, four held: a backlog of 60 takes at least 15 claims, each cut short by the bound. The
    // endpoint answers at once, so attempts finish while the next claim runs; the dispatcher must still see that
    // claim as held back by the bound (claim again on a freed slot), not as having found everything due (sleep,
    // then ask the database when the next delivery is due).
    const ctx = await setup({ WEBHOOK_ENDPOINT_CONCURRENCY: "2" });
    const r = await receiver();
    const tenant = await ctx.newTenant();
    await subscribe(ctx, tenant.apiKey, r.url);
    await insertOrdersWithSql(ctx.services.db, tenant.tenantId, "test", 60);
    let nextDueQueries = 0;
    const counted = watchingQueries(ctx.services.db, (text) => {
      if (text.includes("min(next_attempt_at)")) nextDueQueries++;
    });
    const d = await dispatcher(ctx, { ...ctx.services, db: counted });
    await waitFor(() => r.received.length === 60, "the backlog delivered");
    expect(d.counters.claimed).toBe(60);
    expect(r.maxInFlight).toBeLessThanOrEqual(2);
    // Once the backlog is drained the dispatcher looks for the next due time (a few times at most); never while
    // it lasts. Judged by what it held after each claim returned, it slept after about every second claim.
    expect(nextDueQueries).toBeLessThanOrEqual(3);
  });

  it("claims at most once per WEBHOOK_CLAIM_INTERVAL while it keeps up, gathering what commits in between", async () => {
    const ctx = await setup({ WEBHOOK_CLAIM_INTERVAL: "250ms" });
    const r = await receiver();
    const tenant = await ctx.newTenant();
    await subscribe(ctx, tenant.apiKey, r.url);
    const claimsStarted: number[] = [];
    const watched = watchingQueries(ctx.services.db, (text) => {
      if (text.includes("cellvi_claim_webhook_deliveries")) claimsStarted.push(performance.now());
    });
    await dispatcher(ctx, { ...ctx.services, db: watched });
    // Twelve events, each in its own transaction (each notifies), about 25 ms apart: unpaced, about one claim each.
    for (let i = 0; i < 12; i++) {
      await insertOrdersWithSql(ctx.services.db, tenant.tenantId, "test", 1);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await waitFor(() => r.received.length === 12, "every event delivered");
    expect(new Set(r.received.map((x) => x.headers["webhook-id"])).size).toBe(12);
    const gaps = claimsStarted.slice(1).map((at, i) => at - claimsStarted[i]!);
    // Timers may fire a millisecond before the monotonic clock says the interval is over.
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(245);
    // About 300 ms of commits and the deliveries after them: a handful of claims, not twelve.
    expect(claimsStarted.length).toBeLessThanOrEqual(6);
  });

  it("does not pace claims while a backlog lasts: a claim that came back full is followed at once", async () => {
    // Claims of 2 and the longest interval allowed: 40 due deliveries take 20 full claims, which the pacing would
    // spread over 19 s.
    const ctx = await setup({ WEBHOOK_CLAIM_INTERVAL: "1s", WEBHOOK_BATCH_SIZE: "2" });
    const r = await receiver();
    const tenant = await ctx.newTenant();
    await subscribe(ctx, tenant.apiKey, r.url);
    await insertOrdersWithSql(ctx.services.db, tenant.tenantId, "test", 40);
    const d = await dispatcher(ctx);
    await waitFor(() => r.received.length === 40, "the backlog delivered", 8_000);
    expect(d.counters.claimed).toBe(40);
  });

  it("finishes attempts in flight when stopped, and records them", async () => {
    const ctx = await setup();
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const r = await receiver(() => ({ status: 200, holdUntil: gate }));
    const tenant = await ctx.newTenant();
    await subscribe(ctx, tenant.apiKey, r.url);
    const d = await startDispatcher(ctx.services);
    await insertOrdersWithSql(ctx.services.db, tenant.tenantId, "test", 3);
    await waitFor(() => r.inFlight === 3, "three attempts in flight");
    let stopped = false;
    const stopping = d.stop().then(() => {
      stopped = true;
    });
    // stop() waits for the attempts, which wait for the receiver.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(d.counters).toMatchObject({ claimed: 3, succeeded: 3 });
    const rows = await ctx.services.db.query<{ status: string; lease_token: string | null }>(
      "select status, lease_token from webhook_deliveries",
    );
    expect(rows.rows).toEqual([
      { status: "succeeded", lease_token: null },
      { status: "succeeded", lease_token: null },
      { status: "succeeded", lease_token: null },
    ]);
  });

  it("hands back the deliveries it claimed but had not started when stopped", async () => {
    const ctx = await setup({ WEBHOOK_ENDPOINT_CONCURRENCY: "1" });
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const r = await receiver(() => ({ status: 200, holdUntil: gate }));
    const tenant = await ctx.newTenant();
    await subscribe(ctx, tenant.apiKey, r.url);
    const d = await startDispatcher(ctx.services);
    await insertOrdersWithSql(ctx.services.db, tenant.tenantId, "test", 3);
    await waitFor(() => r.inFlight === 1, "one attempt in flight");
    // One attempt runs; one more is claimed and waits for the endpoint's single slot; the third is not claimed.
    await waitFor(async () => {
      const { rows } = await ctx.services.db.query<{ n: number }>(
        "select count(*)::int as n from webhook_deliveries where lease_token is not null",
      );
      return rows[0]!.n === 2;
    }, "two deliveries held by the dispatcher");
    const stopping = d.stop();
    release();
    await stopping;
    const { rows } = await ctx.services.db.query<{
      status: string;
      attempts: number;
      leased: boolean;
      due: boolean;
    }>(
      `select status, attempts, lease_token is not null as leased, next_attempt_at <= now() as due
         from webhook_deliveries order by status desc, seq`,
    );
    expect(rows).toEqual([
      { status: "succeeded", attempts: 1, leased: false, due: null },
      { status: "pending", attempts: 0, leased: false, due: true },
      { status: "pending", attempts: 0, leased: false, due: true },
    ]);
    expect(r.received).toHaveLength(1);
  });

  it("drops unsent a claimed delivery whose lease ran out while it waited for its endpoint's slot", async () => {
    // A worker frozen or starved while it holds claims: by the time a slot frees up, the lease of a delivery waiting
    // for it may have run out and another worker may own the row. Judged on the worker's monotonic clock (moved by
    // hand here): a 15 s lease and a 5 s timeout leave 9 s after the claim was sent to start an attempt (a second
    // kept to write its outcome).
    const ctx = await setup({
      WEBHOOK_ENDPOINT_CONCURRENCY: "1",
      WEBHOOK_TIMEOUT: "5s",
      WEBHOOK_LEASE: "15s",
    });
    const gates = [0, 1, 2].map(() => {
      let open: () => void = () => {};
      const opened = new Promise<void>((resolve) => {
        open = resolve;
      });
      return { open, opened };
    });
    const r = await receiver((request) => ({ status: 200, holdUntil: gates[request.index]?.opened }));
    const tenant = await ctx.newTenant();
    await subscribe(ctx, tenant.apiKey, r.url);
    let monotonic = 0;
    const d = await startDispatcher(ctx.services, { monotonicNow: () => monotonic });
    cleanups.push(() => d.stop());
    await insertOrdersWithSql(ctx.services.db, tenant.tenantId, "test", 3);
    // One attempt runs, a second delivery claimed with it waits for the single slot (twice the bound is held).
    await waitFor(
      () => r.inFlight === 1 && d.counters.claimed === 2,
      "one attempt running, one claim waiting",
    );

    // The last moment its attempt may start: it is sent. Its slot freed, the third delivery is claimed (at 9 s on
    // this clock, so it may start until 18 s) and waits behind it.
    monotonic = 9_000;
    gates[0]!.open();
    await waitFor(
      () => r.received.length === 2 && d.counters.claimed === 3,
      "the second sent, the third claimed",
    );

    // Past the third one's window when its slot frees: dropped, neither sent nor written.
    monotonic = 18_001;
    gates[1]!.open();
    await waitFor(async () => {
      const { rows } = await ctx.services.db.query<{ n: number }>(
        "select count(*)::int as n from webhook_deliveries where status = 'succeeded'",
      );
      return rows[0]!.n === 2;
    }, "the two attempts sent recorded");
    expect(r.received, "nothing sent after the second").toHaveLength(2);
    await waitFor(() => d.counters.expired === 1, "the third delivery dropped");
    expect(d.counters).toMatchObject({ claimed: 3, succeeded: 2, stale: 0, expired: 1 });
    const { rows } = await ctx.services.db.query<{
      status: string;
      attempts: number;
      leased: boolean;
      logged: number;
    }>(
      `select d.status, d.attempts, d.lease_token is not null as leased, count(a.id)::int as logged
         from webhook_deliveries d left join webhook_attempts a on a.delivery_id = d.id
        group by d.id order by d.status desc`,
    );
    // Its row stays as the claim left it, due when the lease ends, for whichever worker claims it then.
    expect(rows).toEqual([
      { status: "succeeded", attempts: 1, leased: false, logged: 1 },
      { status: "succeeded", attempts: 1, leased: false, logged: 1 },
      { status: "pending", attempts: 1, leased: true, logged: 0 },
    ]);
    gates[2]!.open();
  });

  it("lets two dispatchers drain one queue, delivering each event once", async () => {
    const ctx = await setup({ WEBHOOK_BATCH_SIZE: "20" });
    const r = await receiver();
    const tenants = await Promise.all([ctx.newTenant({ name: "A" }), ctx.newTenant({ name: "B" })]);
    for (const tenant of tenants) await subscribe(ctx, tenant.apiKey, r.url);
    // On PostgreSQL the second dispatcher has its own pool, as a second worker process would.
    let secondDb: Db = ctx.services.db;
    if (kind === "postgres") {
      secondDb = await openPostgresDb(ctx.testDb.url!, { poolMax: 4 });
      cleanups.push(() => secondDb.close());
    }
    const secondSender = createWebhookSender(ctx.services.config);
    cleanups.push(() => secondSender.close());
    const one = await dispatcher(ctx);
    const two = await dispatcher(ctx, { ...ctx.services, db: secondDb, webhookSender: secondSender });
    const perTenant = 150;
    await Promise.all(
      tenants.map((tenant) => insertOrdersWithSql(ctx.services.db, tenant.tenantId, "test", perTenant)),
    );
    await waitFor(() => r.received.length >= perTenant * 2, "every delivery");
    await waitFor(async () => {
      const pending = await ctx.services.db.query(
        "select 1 from webhook_deliveries where status <> 'succeeded'",
      );
      return pending.rowCount === 0;
    }, "every outcome recorded");
    const ids = r.received.map((x) => x.headers["webhook-id"]);
    expect(new Set(ids).size).toBe(perTenant * 2);
    expect(ids).toHaveLength(perTenant * 2);
    expect(one.counters.claimed + two.counters.claimed).toBe(perTenant * 2);
  });
});
