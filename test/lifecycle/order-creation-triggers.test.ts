import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { insertOrder } from "../../src/domain/orders/store.ts";
import { createTenant } from "../../src/domain/tenants/store.ts";
import { orderBody } from "../support/app.ts";
import { dbKinds, openTestDb, type TestDb } from "../support/db.ts";
import { eventsOf, historyOf, orderRow } from "./support.ts";

/**
 * What the triggers of an order's creation do besides the common path (0002's BEFORE INSERT trigger on orders,
 * 0008's first-CREATED-row shortcut): the cases a cheaper arrangement of those triggers (a WHEN clause, one query
 * instead of two, merged triggers) must still get right.
 */
describe.each(dbKinds)("order inserts and their first history row on %s", (kind) => {
  let testDb: TestDb;
  let tenantId: string;
  let counter = 0;
  beforeAll(async () => {
    testDb = await openTestDb(kind);
    tenantId = (await createTenant(testDb.db, { name: "Order insert tenant" })).tenant.id;
  });
  afterAll(() => testDb.close());

  /** A raw insert of an order with `extra` columns; returns the statement's promise. */
  function rawOrder(extra: Record<string, unknown>) {
    counter++;
    const columns = Object.keys(extra);
    return testDb.db.query<{ id: string; attempt: number }>(
      `insert into orders (tenant_id, mode, external_id, tracking_number, tracking_token, recipient, destination,
                           packages${columns.map((c) => `, ${c}`).join("")})
       values ($1, 'test', $2, $3, 'trk_s', '{"name":"A","phone":"+5730000000"}',
               '{"city":"Cali","address_line1":"x","country":"CO"}', '[]'${columns.map((_, i) => `, $${i + 4}`).join("")})
       returning id, attempt`,
      [
        tenantId,
        `SHORTCUT-${counter}`,
        `CVSHORTCUT${String(counter).padStart(4, "0")}`,
        ...Object.values(extra),
      ],
    );
  }

  it("starts every new order at attempt 0, whatever attempt the writer gave, null included", async () => {
    for (const attempt of [5, null, 0]) {
      const { rows } = await rawOrder({ attempt });
      expect(rows[0]!.attempt).toBe(0);
      expect((await orderRow(testDb.db, rows[0]!.id)).attempt).toBe(0);
    }
  });

  it("refuses a new order that is closed, or not CREATED, with CV409; a null status with NOT NULL's error", async () => {
    await expect(rawOrder({ status: "EXCEPTION", closed_at: new Date() })).rejects.toMatchObject({
      code: "CV409",
    });
    await expect(rawOrder({ closed_at: new Date() })).rejects.toMatchObject({ code: "CV409" });
    await expect(rawOrder({ status: "NEARBY" })).rejects.toMatchObject({ code: "CV409" });
    await expect(rawOrder({ status: null })).rejects.toMatchObject({ code: "23502" });
  });

  it("refuses a second CREATED row for an order of the same transaction, and the transaction leaves nothing", async () => {
    let orderId = "";
    await expect(
      testDb.db.transaction(async (tx) => {
        const result = await insertOrder(tx, { tenantId, mode: "test" }, orderBody() as never);
        if (result.kind !== "created") throw new Error("order not created");
        orderId = result.order.id;
        await tx.query(
          `insert into order_status_history (order_id, tenant_id, status, description)
           values ($1, $2, 'CREATED', 'Order received again')`,
          [orderId, tenantId],
        );
      }),
    ).rejects.toMatchObject({ code: "CV409" });
    expect(orderId).not.toBe("");
    const { rows } = await testDb.db.query("select 1 from orders where id = $1", [orderId]);
    expect(rows).toHaveLength(0);
    expect(await eventsOf(testDb.db, orderId)).toHaveLength(0);
    expect(await historyOf(testDb.db, orderId)).toHaveLength(0);
  });

  it("refuses a CREATED row for an order of the same transaction that has already moved on", async () => {
    await expect(
      testDb.db.transaction(async (tx) => {
        const result = await insertOrder(tx, { tenantId, mode: "test" }, orderBody() as never);
        if (result.kind !== "created") throw new Error("order not created");
        await tx.query(
          `insert into order_status_history (order_id, tenant_id, status, description, details)
           values ($1, $2, 'DRIVER_ASSIGNED', 'Driver assigned', '{"driver":{"id":"d1","name":"Ana"}}')`,
          [result.order.id, tenantId],
        );
        await tx.query("delete from order_status_history where order_id = $1 and status = 'CREATED'", [
          result.order.id,
        ]);
        await tx.query(
          `insert into order_status_history (order_id, tenant_id, status, description)
           values ($1, $2, 'CREATED', 'Order received again')`,
          [result.order.id, tenantId],
        );
      }),
    ).rejects.toMatchObject({ code: "CV409" });
  });
});

/** The fan-out behind an order created the way the API creates it: one delivery per matching enabled subscription. */
describe.each(dbKinds)("an order's ORDER_CREATED deliveries on %s", (kind) => {
  let testDb: TestDb;
  let tenantId: string;
  const subscriptions: Record<string, string> = {};
  beforeAll(async () => {
    testDb = await openTestDb(kind);
    tenantId = (await createTenant(testDb.db, { name: "Fan-out tenant" })).tenant.id;
    const add = async (name: string, mode: string, events: string[], enabled: boolean) => {
      const { rows } = await testDb.db.query<{ id: string }>(
        `insert into webhook_subscriptions (tenant_id, mode, url, events, enabled, secret)
         values ($1, $2, 'https://receiver.example/hook', $3, $4, 'whsec_test') returning id`,
        [tenantId, mode, events, enabled],
      );
      subscriptions[name] = rows[0]!.id;
    };
    await add("all", "test", ["*"], true);
    await add("created", "test", ["ORDER_CREATED"], true);
    await add("delivered", "test", ["DELIVERED"], true);
    await add("paused", "test", ["*"], false);
    await add("live", "live", ["*"], true);
  });
  afterAll(() => testDb.close());

  it("writes one event and one delivery for each matching enabled subscription of the order's mode", async () => {
    const result = await testDb.db.transaction((tx) =>
      insertOrder(tx, { tenantId, mode: "test" }, orderBody() as never),
    );
    if (result.kind !== "created") throw new Error("order not created");
    const events = await eventsOf(testDb.db, result.order.id);
    expect(events.map((e) => e.type)).toEqual(["ORDER_CREATED"]);
    const { rows } = await testDb.db.query<{ subscription_id: string; event_type: string; status: string }>(
      `select subscription_id, event_type, status from webhook_deliveries d
        where d.event_id = (select id from events where order_id = $1)
        order by subscription_id`,
      [result.order.id],
    );
    expect(rows).toEqual(
      [subscriptions.all!, subscriptions.created!]
        .sort()
        .map((id) => ({ subscription_id: id, event_type: "ORDER_CREATED", status: "pending" })),
    );
  });

  it("writes the event but no delivery for a tenant with no subscription", async () => {
    const quiet = (await createTenant(testDb.db, { name: "Tenant without subscriptions" })).tenant.id;
    const result = await testDb.db.transaction((tx) =>
      insertOrder(tx, { tenantId: quiet, mode: "test" }, orderBody() as never),
    );
    if (result.kind !== "created") throw new Error("order not created");
    expect((await eventsOf(testDb.db, result.order.id)).map((e) => e.type)).toEqual(["ORDER_CREATED"]);
    const { rows } = await testDb.db.query<{ n: number }>(
      "select count(*)::int as n from webhook_deliveries where tenant_id = $1",
      [quiet],
    );
    expect(rows[0]!.n).toBe(0);
  });

  it("leaves no order, event or delivery when the creating transaction rolls back", async () => {
    let orderId = "";
    await expect(
      testDb.db.transaction(async (tx) => {
        const result = await insertOrder(tx, { tenantId, mode: "test" }, orderBody() as never);
        if (result.kind !== "created") throw new Error("order not created");
        orderId = result.order.id;
        throw new Error("rolled back on purpose");
      }),
    ).rejects.toThrow("rolled back on purpose");
    const { rows } = await testDb.db.query(
      `select (select count(*) from orders where id = $1)::int as orders,
              (select count(*) from events where order_id = $1)::int as events,
              (select count(*) from webhook_deliveries d
                where d.body like '%' || $1 || '%')::int as deliveries`,
      [orderId],
    );
    expect(rows[0]).toEqual({ orders: 0, events: 0, deliveries: 0 });
  });
});

/**
 * 0016 dropped the foreign keys of `order_status_history.tenant_id` and `webhook_deliveries.tenant_id`, which other
 * constraints imply: what they guarded must still hold.
 */
describe.each(dbKinds)("the tenant of history rows and deliveries on %s", (kind) => {
  let testDb: TestDb;
  beforeAll(async () => {
    testDb = await openTestDb(kind);
  });
  afterAll(() => testDb.close());

  it("refuses a history row naming another tenant than its order's, or one that does not exist", async () => {
    const owner = (await createTenant(testDb.db, { name: "History owner" })).tenant.id;
    const other = (await createTenant(testDb.db, { name: "History other" })).tenant.id;
    const result = await testDb.db.transaction((tx) =>
      insertOrder(tx, { tenantId: owner, mode: "test" }, orderBody() as never),
    );
    if (result.kind !== "created") throw new Error("order not created");
    for (const tenant of [other, "00000000-0000-4000-8000-000000000000"]) {
      await expect(
        testDb.db.query(
          `insert into order_status_history (order_id, tenant_id, status, description, actor, occurred_at)
           values ($1, $2, 'DRIVER_ASSIGNED', 'x', 'api', now())`,
          [result.order.id, tenant],
        ),
      ).rejects.toMatchObject({ code: "23514" });
    }
    expect((await historyOf(testDb.db, result.order.id)).map((row) => row.status)).toEqual(["CREATED"]);
  });

  it("deleting a tenant still deletes its orders' history, its subscriptions' deliveries and their attempts", async () => {
    const doomed = (await createTenant(testDb.db, { name: "Deleted tenant" })).tenant.id;
    const { rows: subscription } = await testDb.db.query<{ id: string }>(
      `insert into webhook_subscriptions (tenant_id, mode, url, events, secret)
       values ($1, 'test', 'https://receiver.example/hook', '{*}', 'whsec_test') returning id`,
      [doomed],
    );
    const result = await testDb.db.transaction((tx) =>
      insertOrder(tx, { tenantId: doomed, mode: "test" }, orderBody() as never),
    );
    if (result.kind !== "created") throw new Error("order not created");
    const { rows: delivery } = await testDb.db.query<{ id: string }>(
      "select id from webhook_deliveries where subscription_id = $1",
      [subscription[0]!.id],
    );
    expect(delivery).toHaveLength(1);
    await testDb.db.query(
      "insert into webhook_attempts (delivery_id, attempt, attempted_at, outcome, duration_ms) values ($1, 1, now(), 'failed', 5)",
      [delivery[0]!.id],
    );
    const count = async () => {
      const { rows } = await testDb.db.query<Record<string, number>>(
        `select (select count(*) from orders where tenant_id = $1)::int as orders,
                (select count(*) from order_status_history where order_id = $2)::int as history,
                (select count(*) from events where order_id = $2)::int as events,
                (select count(*) from webhook_subscriptions where tenant_id = $1)::int as subscriptions,
                (select count(*) from webhook_deliveries where id = $3)::int as deliveries,
                (select count(*) from webhook_attempts where delivery_id = $3)::int as attempts`,
        [doomed, result.order.id, delivery[0]!.id],
      );
      return rows[0];
    };
    expect(await count()).toEqual({
      orders: 1,
      history: 1,
      events: 1,
      subscriptions: 1,
      deliveries: 1,
      attempts: 1,
    });
    await testDb.db.query("delete from tenants where id = $1", [doomed]);
    expect(await count()).toEqual({
      orders: 0,
      history: 0,
      events: 0,
      subscriptions: 0,
      deliveries: 0,
      attempts: 0,
    });
  });
});
