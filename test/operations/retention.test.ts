import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { housekeep, pruneRetained } from "../../src/domain/retention.ts";
import { createTestContext, orderBody, type TestContext } from "../support/app.ts";
import { dbKinds } from "../support/db.ts";

describe.each(dbKinds)("retention (%s)", (kind) => {
  let t: TestContext;
  beforeAll(async () => {
    t = await createTestContext(kind);
  });
  afterAll(() => t?.close());

  it("deletes finished deliveries, events and positions past their retention, and nothing else", async () => {
    const { apiKey } = await t.newTenant();
    const subscribed = await t.request("/v1/webhooks/subscribe", {
      method: "POST",
      key: apiKey,
      json: { url: "https://hooks.example.com/cellvi", events: ["*"] },
    });
    expect(subscribed.status).toBe(201);
    const subscriptionId = ((await subscribed.json()) as { id: string }).id;
    const orderIds: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await t.request("/v1/orders", { method: "POST", key: apiKey, json: orderBody() });
      expect(res.status).toBe(201);
      orderIds.push(((await res.json()) as { id: string }).id);
    }
    const { db } = t.services;
    const deliveries = (
      await db.query<{ id: string }>(
        "select id from webhook_deliveries where subscription_id = $1 order by seq",
        [subscriptionId],
      )
    ).rows.map((row) => row.id);
    expect(deliveries).toHaveLength(4);
    const [oldSucceeded, oldFailed, oldPending, recentSucceeded] = deliveries as [
      string,
      string,
      string,
      string,
    ];
    const setDelivery = (id: string, status: string, daysAgo: number) =>
      db.query(
        `update webhook_deliveries
            set status = $2, created_at = now() - make_interval(days => $3),
                completed_at = case when $2 = 'pending' then null else now() - make_interval(days => $3) end,
                next_attempt_at = case when $2 = 'pending' then now() else null end
          where id = $1`,
        [id, status, daysAgo],
      );
    await setDelivery(oldSucceeded, "succeeded", 40);
    await setDelivery(oldFailed, "failed", 40);
    await setDelivery(oldPending, "pending", 40);
    await setDelivery(recentSucceeded, "succeeded", 2);
    await db.query(
      `insert into webhook_attempts (delivery_id, attempt, attempted_at, duration_ms, outcome, status_code)
       values ($1, 1, now() - interval '40 days', 12, 'succeeded', 200)`,
      [oldSucceeded],
    );
    // The events of the first two orders are old.
    await db.query(
      "update events set created_at = now() - interval '40 days' where order_id = any($1::uuid[])",
      [orderIds.slice(0, 2)],
    );
    const [firstOrder] = orderIds as [string];
    await db.query(
      `insert into order_positions (order_id, tenant_id, attempt, latitude, longitude, recorded_at, received_at)
       select id, tenant_id, 1, 4.65, -74.05, now() - make_interval(days => d), now() - make_interval(days => d)
         from orders, unnest(array[100, 1]) as d where id = $1`,
      [firstOrder],
    );

    const pruned = await pruneRetained(db, { webhookDeliveryDays: 30, eventDays: 30, positionDays: 90 });
    expect(pruned).toEqual({ webhookDeliveries: 2, events: 2, positions: 1 });

    const left = (
      await db.query<{ id: string }>(
        "select id from webhook_deliveries where subscription_id = $1 order by seq",
        [subscriptionId],
      )
    ).rows.map((row) => row.id);
    expect(left).toEqual([oldPending, recentSucceeded]);
    const attempts = await db.query("select 1 from webhook_attempts where delivery_id = $1", [oldSucceeded]);
    expect(attempts.rowCount).toBe(0);
    const events = await db.query<{ order_id: string }>(
      "select order_id from events where order_id = any($1::uuid[]) order by seq",
      [orderIds],
    );
    expect(events.rows.map((row) => row.order_id)).toEqual(orderIds.slice(2));
    const positions = await db.query("select 1 from order_positions where order_id = $1", [firstOrder]);
    expect(positions.rowCount).toBe(1);
    // The orders themselves are never pruned.
    const orders = await db.query("select 1 from orders where id = any($1::uuid[])", [orderIds]);
    expect(orders.rowCount).toBe(4);

    // 0 keeps everything.
    await db.query(
      "update webhook_deliveries set created_at = now() - interval '400 days', status = 'succeeded'",
    );
    await db.query("update events set created_at = now() - interval '400 days'");
    await db.query("update order_positions set received_at = now() - interval '400 days'");
    const none = await pruneRetained(db, { webhookDeliveryDays: 0, eventDays: 0, positionDays: 0 });
    expect(none).toEqual({ webhookDeliveries: 0, events: 0, positions: 0 });
  });
});

describe.each(dbKinds)("housekeeping (%s)", (kind) => {
  let t: TestContext;
  beforeAll(async () => {
    t = await createTestContext(kind);
  });
  afterAll(() => t?.close());

  it("prunes expired idempotency records and applies retention, as both deployments run it hourly", async () => {
    const { apiKey } = await t.newTenant();
    const res = await t.request("/v1/orders/create", {
      method: "POST",
      key: apiKey,
      json: orderBody(),
      headers: { "idempotency-key": "housekeeping-1" },
    });
    expect(res.status).toBe(201);
    const orderId = ((await res.json()) as { id: string }).id;
    const { db } = t.services;
    await db.query("update idempotency_keys set created_at = now() - interval '2 days' where key = $1", [
      "housekeeping-1",
    ]);
    await db.query(
      `insert into order_positions (order_id, tenant_id, attempt, latitude, longitude, recorded_at, received_at)
       select id, tenant_id, 1, 4.65, -74.05, now() - interval '100 days', now() - interval '100 days'
         from orders where id = $1`,
      [orderId],
    );
    await housekeep(t.services);
    expect(
      (await db.query("select 1 from idempotency_keys where key = $1", ["housekeeping-1"])).rowCount,
    ).toBe(0);
    expect((await db.query("select 1 from order_positions where order_id = $1", [orderId])).rowCount).toBe(0);
  });
});
