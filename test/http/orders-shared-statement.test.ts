import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requestFingerprint } from "../../src/domain/idempotency/run.ts";
import { type CreateRequest, OrderCreator } from "../../src/domain/orders/create-once.ts";
import type { CreateOrderInput } from "../../src/domain/orders/schemas.ts";
import { createTestContext, orderBody, type TestContext } from "../support/app.ts";
import { dbKinds } from "../support/db.ts";

// Keyed order creations of concurrent requests share one statement (OrderCreator); each must keep the outcome it
// would have had alone.
describe.each(dbKinds)("keyed order creations sharing a statement on %s", (kind) => {
  let t: TestContext;
  let tenantId: string;
  let key: string;
  beforeAll(async () => {
    t = await createTestContext(kind);
    ({ tenantId, apiKey: key } = await t.newTenant());
  });
  afterAll(() => t.close());

  const request = (input = orderBody(), idempotencyKey = `k-${Math.random()}`): CreateRequest => ({
    scope: { tenantId, mode: "test" },
    input: input as CreateOrderInput,
    idempotency: {
      key: idempotencyKey,
      fingerprint: requestFingerprint("POST", "/v1/orders", input),
      baseUrl: t.services.config.publicBaseUrl,
    },
  });
  // One statement at a time: the first request goes alone, the ones arriving meanwhile share the next statement.
  const creator = () =>
    new OrderCreator(t.services.db, { maxInFlight: 1, maxBatch: 64, lockTimeout: "100ms" });
  const rowsFor = async (externalId: string) => {
    const db = t.services.db;
    const orders = await db.query<{ id: string }>("select id from orders where external_id = $1", [
      externalId,
    ]);
    const id = orders.rows[0]?.id ?? "00000000-0000-0000-0000-000000000000";
    const history = await db.query("select 1 from order_status_history where order_id = $1", [id]);
    const events = await db.query("select 1 from events where order_id = $1", [id]);
    return { orders: orders.rows.length, history: history.rows.length, events: events.rows.length };
  };

  it("creates each request's order, history row, event and recorded response in one statement", async () => {
    const c = creator();
    const requests = Array.from({ length: 6 }, () => request());
    const attempts = await Promise.all(requests.map((r) => c.create(r)));
    // Asked in one turn: one statement at its end.
    expect(c.stats).toEqual({ statements: 1, requests: 6 });
    for (const [i, attempt] of attempts.entries()) {
      const { input, idempotency } = requests[i]!;
      expect(attempt.held).toBe(true);
      expect(attempt.keyRecorded).toBe(false);
      expect(attempt.body?.external_id).toBe(input.external_id);
      expect(await rowsFor(input.external_id)).toEqual({ orders: 1, history: 1, events: 1 });
      // The body is what GET answers, and what the key replays.
      const fetched = await t.request(`/v1/orders/${attempt.body!.id}`, { key });
      expect(attempt.body).toEqual(await fetched.json());
      const replay = await t.request("/v1/orders/create", {
        method: "POST",
        key,
        json: input,
        headers: { "idempotency-key": idempotency.key },
      });
      expect(replay.headers.get("idempotent-replayed")).toBe("true");
      expect(await replay.json()).toEqual(attempt.body);
    }
  });

  it("never puts two requests with one key in one statement", async () => {
    const c = creator();
    const first = request();
    const same = request(first.input, first.idempotency.key);
    const attempts = await Promise.all([c.create(request()), c.create(first), c.create(same)]);
    expect(c.stats.statements).toBe(2);
    expect(attempts[1]!.body).not.toBeNull();
    // The second one's statement waits for the first one's lock on the key, then finds the key recorded.
    expect(attempts[2]).toEqual({ held: true, body: null, keyRecorded: true });
    expect(await rowsFor(first.input.external_id)).toEqual({ orders: 1, history: 1, events: 1 });
  });

  it("skips a request whose key is recorded and creates the others", async () => {
    const recorded = request();
    expect((await creator().create(recorded)).body).not.toBeNull();
    const c = creator();
    const others = [request(), request()];
    const attempts = await Promise.all([
      c.create(request()),
      c.create(others[0]!),
      c.create(recorded),
      c.create(others[1]!),
    ]);
    expect(c.stats.statements).toBe(1);
    expect(attempts[2]).toEqual({ held: true, body: null, keyRecorded: true });
    for (const r of others)
      expect(await rowsFor(r.input.external_id)).toEqual({ orders: 1, history: 1, events: 1 });
    expect(await rowsFor(recorded.input.external_id)).toEqual({ orders: 1, history: 1, events: 1 });
  });

  it("creates one order for an external_id two requests of one statement use", async () => {
    const c = creator();
    const a = request();
    const b = request(orderBody({ external_id: a.input.external_id }));
    const attempts = await Promise.all([c.create(request()), c.create(a), c.create(b)]);
    expect(c.stats.statements).toBe(1);
    expect(attempts[1]!.body).not.toBeNull();
    expect(attempts[2]).toEqual({ held: true, body: null, keyRecorded: false });
    expect(await rowsFor(a.input.external_id)).toEqual({ orders: 1, history: 1, events: 1 });
    const keys = await t.services.db.query("select 1 from idempotency_keys where key = $1", [
      b.idempotency.key,
    ]);
    expect(keys.rows).toHaveLength(0);
  });

  it.runIf(kind === "postgres")(
    "lets the queue move while a request waits on an external_id another transaction holds",
    async () => {
      const pg = (await import("pg")).default;
      const blocked = request();
      // A long transaction (an import, say) has inserted the same external_id and not committed yet.
      const holder = new pg.Client({ connectionString: t.testDb.url });
      await holder.connect();
      try {
        await holder.query("begin");
        await holder.query(
          `insert into orders (tenant_id, mode, external_id, tracking_number, tracking_token, recipient,
                               destination, packages)
           values ($1, 'test', $2, $3, 'trk_holder', '{}', '{}', '[]')`,
          [tenantId, blocked.input.external_id, `CVHOLD${Math.random().toString(36).slice(2, 10)}`],
        );
        const c = creator();
        let blockedSettled = false;
        const blockedAttempt = c.create(blocked).finally(() => {
          blockedSettled = true;
        });
        const others = [request(), request(), request()];
        const attempts = await Promise.all(others.map((r) => c.create(r)));
        for (const attempt of attempts) expect(attempt.body).not.toBeNull();
        expect(blockedSettled).toBe(false);
        await holder.query("rollback");
        expect((await blockedAttempt).body?.external_id).toBe(blocked.input.external_id);
      } finally {
        await holder.end();
      }
      expect(await rowsFor(blocked.input.external_id)).toEqual({ orders: 1, history: 1, events: 1 });
    },
  );

  it("runs each request alone when the shared statement fails, so only the failing one fails", async () => {
    const db = t.services.db;
    await db.exec(`create function fail_some_event() returns trigger language plpgsql as $$
      begin
        if new.payload ->> 'external_id' like 'FAIL-%' then raise exception 'events are down'; end if;
        return new;
      end $$;
      create trigger fail_some_event before insert on events for each row execute function fail_some_event();`);
    // Many rounds: PostgreSQL sends the shared statement's error before it releases that statement's key locks, so
    // a rerun on another connection could find its own key's lock still taken (a 409 in about one round in five,
    // before the reruns looked twice).
    const failingOnes: CreateRequest[] = [];
    try {
      for (let round = 0; round < 25; round++) {
        const c = creator();
        const failing = request(orderBody({ external_id: `FAIL-${Math.random()}` }));
        failingOnes.push(failing);
        const others = [request(), request()];
        const settled = await Promise.allSettled([
          c.create(request()),
          c.create(others[0]!),
          c.create(failing),
          c.create(others[1]!),
        ]);
        expect(settled.map((s) => s.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled"]);
        for (const s of settled)
          if (s.status === "fulfilled") expect(s.value).toMatchObject({ held: true, keyRecorded: false });
        for (const r of others)
          expect(await rowsFor(r.input.external_id)).toEqual({ orders: 1, history: 1, events: 1 });
      }
    } finally {
      await db.exec("drop trigger fail_some_event on events; drop function fail_some_event();");
    }
    for (const failing of failingOnes) {
      expect(await rowsFor(failing.input.external_id)).toEqual({ orders: 0, history: 0, events: 0 });
      const keys = await db.query("select 1 from idempotency_keys where key = $1", [failing.idempotency.key]);
      expect(keys.rows).toHaveLength(0);
    }
  });
});
