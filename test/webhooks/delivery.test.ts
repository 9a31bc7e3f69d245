import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Dispatcher, startDispatcher } from "../../src/domain/webhooks/dispatcher.ts";
import { createTestContext, orderBody, type TestContext } from "../support/app.ts";
import { dbKinds } from "../support/db.ts";
import {
  insertOrdersWithSql,
  moveOrderWithSql,
  outboxEvents,
  type Receiver,
  startReceiver,
  verifyWithLibrary,
  waitFor,
} from "./support.ts";

/**
 * End to end on the real HTTP sender and a real receiver on loopback: events made through the API and through raw
 * SQL reach the subscriber signed, byte for byte as the outbox holds them, and reach nobody else.
 */
describe.each(dbKinds)("webhook delivery on %s", (kind) => {
  let t: TestContext;
  let dispatcher: Dispatcher;
  let all: Receiver;
  let deliveredOnly: Receiver;
  let liveReceiver: Receiver;
  let otherTenant: Receiver;
  const secrets: Record<string, string> = {};
  const subscriptionIds: Record<string, string> = {};
  let tenant: { tenantId: string; apiKey: string };
  let opsKey: string;

  beforeAll(async () => {
    t = await createTestContext(kind, {
      env: { WEBHOOK_ALLOW_PRIVATE_URLS: "true", WEBHOOK_ALLOW_HTTP: "true", WEBHOOK_TIMEOUT: "5s" },
    });
    tenant = await t.newTenant({ name: "Receiver Co" });
    opsKey = (await t.newKey(tenant.tenantId, { scopes: ["ops"] })).apiKey;
    const liveKey = (await t.newKey(tenant.tenantId, { mode: "live" })).apiKey;
    const other = await t.newTenant({ name: "Someone else" });
    [all, deliveredOnly, liveReceiver, otherTenant] = await Promise.all([
      startReceiver(),
      startReceiver(),
      startReceiver(),
      startReceiver(),
    ]);
    const subscribe = async (name: string, apiKey: string, url: string, events: string[]) => {
      const res = await t.request("/v1/webhooks/subscribe", {
        method: "POST",
        key: apiKey,
        json: { url, events },
      });
      expect(res.status).toBe(201);
      const body = await res.json();
      secrets[name] = body.secret;
      subscriptionIds[name] = body.id;
    };
    await subscribe("all", tenant.apiKey, all.url, ["*"]);
    await subscribe("deliveredOnly", tenant.apiKey, deliveredOnly.url, ["DELIVERED"]);
    await subscribe("live", liveKey, liveReceiver.url, ["*"]);
    await subscribe("otherTenant", other.apiKey, otherTenant.url, ["*"]);
    dispatcher = await startDispatcher(t.services);
  });

  afterAll(async () => {
    await dispatcher?.stop();
    await Promise.all([all, deliveredOnly, liveReceiver, otherTenant].map((r) => r?.close()));
    await t?.close();
  });

  const ops = async (path: string, json: unknown) => {
    const res = await t.request(path, { method: "POST", key: opsKey, json });
    expect(res.status, `${path}: ${await res.clone().text()}`).toBe(200);
  };

  it("delivers all five event types made through the API and through SQL, signed and verbatim", async () => {
    // Through the API: the whole life of an order, with a failed attempt in the middle.
    const created = await t.request("/v1/orders/create", {
      method: "POST",
      key: tenant.apiKey,
      json: orderBody(),
    });
    expect(created.status).toBe(201);
    const order = await created.json();
    const driver = { id: "drv_7", name: "Carlos Restrepo", vehicle_plate: "KLM-482" };
    await ops(`/v1/orders/${order.id}/assign-driver`, { driver });
    await ops(`/v1/orders/${order.id}/positions`, {
      positions: [{ latitude: 4.6561, longitude: -74.0552, recorded_at: new Date().toISOString() }],
    });
    await ops(`/v1/orders/${order.id}/exception`, { code: "RECIPIENT_ABSENT", message: "Nadie en portería" });
    await ops(`/v1/orders/${order.id}/assign-driver`, { driver });
    await ops(`/v1/orders/${order.id}/deliver`, { received_by: "Valentina Gómez" });

    // Through SQL, as another CELLVI component would write it.
    const [sqlOrderId] = await insertOrdersWithSql(t.services.db, tenant.tenantId, "test", 1);
    const sqlOrder = { id: sqlOrderId!, tenantId: tenant.tenantId };
    await moveOrderWithSql(t.services.db, sqlOrder, "DRIVER_ASSIGNED", {
      driver: { id: "drv_9", name: "Ana" },
    });
    await moveOrderWithSql(t.services.db, sqlOrder, "NEARBY", { distance_m: 420 });
    await moveOrderWithSql(t.services.db, sqlOrder, "EXCEPTION", {
      exception: { code: "ADDRESS_NOT_FOUND", message: "No existe la dirección" },
    });
    await moveOrderWithSql(t.services.db, sqlOrder, "DRIVER_ASSIGNED", {
      driver: { id: "drv_9", name: "Ana" },
    });
    await moveOrderWithSql(t.services.db, sqlOrder, "DELIVERED", { proof: { received_by: "Portería" } });

    const events = await outboxEvents(t.services.db, tenant.tenantId);
    const testEvents = events.filter((e) => (e.payload.order_id as string) !== undefined);
    expect(new Set(testEvents.map((e) => e.type))).toEqual(
      new Set(["ORDER_CREATED", "DRIVER_ASSIGNED", "NEARBY", "DELIVERED", "EXCEPTION"]),
    );
    const ours = testEvents.filter((e) => [order.id, sqlOrderId].includes(e.payload.order_id));
    expect(ours).toHaveLength(12);
    await waitFor(() => all.received.length >= ours.length, "every event at the * subscriber");

    const byId = new Map(all.received.map((r) => [r.headers["webhook-id"], r]));
    for (const event of ours) {
      const request = byId.get(event.id);
      expect(request, `${event.type} ${event.id}`).toBeDefined();
      const body = verifyWithLibrary(secrets.all!, request!) as Record<string, unknown>;
      expect(body).toEqual({
        type: event.type,
        timestamp: event.occurred_at.toISOString(),
        data: event.payload,
      });
      expect(request!.headers["content-type"]).toBe("application/json");
      expect(request!.headers["user-agent"]).toMatch(/CELLVI-Connect-Webhooks/);
      expect(Number(request!.headers["webhook-timestamp"])).toBeGreaterThan(Date.now() / 1000 - 300);
    }
    // The event's own fields travel in data.
    const apiDelivered = ours.find((e) => e.type === "DELIVERED" && e.payload.order_id === order.id)!;
    expect(apiDelivered.payload).toMatchObject({ order_id: order.id, status: "DELIVERED" });
    const apiAssigned = ours.find((e) => e.type === "DRIVER_ASSIGNED" && e.payload.order_id === order.id)!;
    expect(apiAssigned.payload.driver).toMatchObject({ id: "drv_7" });

    await waitFor(
      () => deliveredOnly.received.length >= 2,
      "the DELIVERED events at the filtered subscriber",
    );
    const filtered = deliveredOnly.received.map((r) => verifyWithLibrary(secrets.deliveredOnly!, r)) as {
      type: string;
    }[];
    expect(filtered.map((b) => b.type)).toEqual(["DELIVERED", "DELIVERED"]);

    // Fan-out is transactional, so "nobody else" is a fact in the database, not a matter of waiting long enough.
    const { rows } = await t.services.db.query<{ subscription_id: string; n: number }>(
      "select subscription_id, count(*)::int as n from webhook_deliveries group by subscription_id",
    );
    const counts = Object.fromEntries(rows.map((r) => [r.subscription_id, r.n]));
    expect(counts[subscriptionIds.live!]).toBeUndefined();
    expect(counts[subscriptionIds.otherTenant!]).toBeUndefined();
    expect(counts[subscriptionIds.deliveredOnly!]).toBe(2);
    expect(liveReceiver.received).toHaveLength(0);
    expect(otherTenant.received).toHaveLength(0);

    await waitFor(async () => {
      const pending = await t.services.db.query(
        "select 1 from webhook_deliveries where status <> 'succeeded'",
      );
      return pending.rowCount === 0;
    }, "every delivery recorded as succeeded");
  });

  it("delivers live events only to live subscriptions", async () => {
    const liveOrders = await insertOrdersWithSql(t.services.db, tenant.tenantId, "live", 2);
    await waitFor(() => liveReceiver.received.length >= 2, "the live events");
    const ids = liveReceiver.received.map(
      (r) => (verifyWithLibrary(secrets.live!, r) as { data: { order_id: string } }).data.order_id,
    );
    expect(ids.sort()).toEqual([...liveOrders].sort());
    expect(all.received.some((r) => liveOrders.some((id) => r.body.includes(id)))).toBe(false);
  });

  it("shows each delivery and its attempt in the log", async () => {
    const res = await t.request(`/v1/webhooks/${subscriptionIds.deliveredOnly}/deliveries`, {
      key: tenant.apiKey,
    });
    const log = await res.json();
    expect(log.data).toHaveLength(2);
    for (const delivery of log.data) {
      expect(delivery).toMatchObject({ event_type: "DELIVERED", status: "succeeded", attempt_count: 1 });
      expect(delivery.attempts[0]).toMatchObject({ attempt: 1, outcome: "succeeded", status_code: 200 });
      expect(delivery.attempts[0].duration_ms).toBeGreaterThanOrEqual(0);
    }
  });
});
