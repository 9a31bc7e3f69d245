import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobLeaseMs, vtexMaxAttempts, vtexRetryScheduleMs } from "../../src/domain/connectors/jobs.ts";
import {
  magentoPageSize,
  runDueConnectorJobs,
  startConnectorWorker,
} from "../../src/domain/connectors/worker.ts";
import { createTestContext, type TestContext } from "../support/app.ts";
import { dbKinds } from "../support/db.ts";
import {
  connectorEnv,
  countRows,
  createConnector,
  FakePlatform,
  fixtureJson,
  fixtureText,
  inboundPath,
  MovableClock,
} from "./support.ts";

type Json = Record<string, unknown>;
const hour = 3_600_000;

describe.each(dbKinds)("VTEX hook and OMS fetch on %s", (kind) => {
  let t: TestContext;
  let key: string;
  const clock = new MovableClock();
  const omsOrder = fixtureJson<Json>("vtex/oms-order.json");
  const oms = new FakePlatform((request) => {
    const match = /^\/api\/oms\/pvt\/orders\/([^/?]+)$/.exec(request.url);
    if (!match) return { status: 404, body: { error: "no route" } };
    const orderId = decodeURIComponent(match[1]!);
    if (orderId === "missing-01") return { status: 404, body: { error: "order not found" } };
    return { status: 200, body: { ...omsOrder, orderId } };
  });
  let vtex: Awaited<ReturnType<typeof createConnector>>;
  let token: string;

  beforeAll(async () => {
    await oms.start();
    t = await createTestContext(kind, { env: connectorEnv, clock });
    key = (await t.newTenant()).apiKey;
    vtex = await createConnector(t, key, {
      platform: "vtex",
      settings: { account: "tiendacafe", base_url: oms.url },
      credentials: { app_key: "vtexappkey-tiendacafe-ABCDEF", app_token: "APP-TOKEN-SECRET" },
    });
    token = vtex.generated_credentials.hook_token!;
  });
  afterAll(async () => {
    await t.close();
    await oms.stop();
  });

  function hook(body: Json | string, headers: Record<string, string> = { "x-cellvi-hook-token": token }) {
    return t.request(inboundPath(vtex), {
      method: "POST",
      body: typeof body === "string" ? body : JSON.stringify(body),
      headers: { "content-type": "application/json", ...headers },
    });
  }
  const notification = fixtureJson<Json>("vtex/hook-ready-for-handling.json");

  it("answers the hook ping with 200", async () => {
    const response = await hook({ hookConfig: "ping" }, {});
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ received: true, ping: true });
  });

  it("refuses a wrong hook header or another account with 401, queueing nothing", async () => {
    expect((await hook(notification, { "x-cellvi-hook-token": "nope" })).status).toBe(401);
    expect((await hook(notification, {})).status).toBe(401);
    const otherAccount = await hook({ ...notification, Origin: { Account: "otra", Key: "x" } });
    expect(otherAccount.status).toBe(401);
    expect((await otherAccount.json()).code).toBe("invalid_signature");
    expect(await countRows(t, "connector_jobs")).toBe(0);
    expect(await countRows(t, "connector_deliveries")).toBe(0);
  });

  it("answers at once, then reads the order from the OMS with retries until it recovers", async () => {
    oms.failNext(2, 503);
    const response = await hook(fixtureText("vtex/hook-ready-for-handling.json"));
    expect(response.status).toBe(200);
    const ack = await response.json();
    expect(ack).toMatchObject({ status: "pending", order_id: null, replayed: false });
    expect(oms.requests).toHaveLength(0);
    // VTEX retries the same notification: still one delivery, one job.
    expect(await (await hook(notification)).json()).toMatchObject({
      delivery_id: ack.delivery_id,
      replayed: true,
    });
    expect(await countRows(t, "connector_jobs")).toBe(1);

    const first = await runDueConnectorJobs(t.services);
    expect(first.map((run) => run.result.outcome)).toEqual(["retry"]);
    expect(await runDueConnectorJobs(t.services)).toEqual([]);
    clock.advance(vtexRetryScheduleMs[0]! * 1.2);
    expect((await runDueConnectorJobs(t.services)).map((run) => run.result.outcome)).toEqual(["retry"]);
    const deliveries = await (await t.request(`/v1/connectors/${vtex.id}/deliveries`, { key })).json();
    expect(deliveries.data[0]).toMatchObject({
      status: "pending",
      detail: expect.stringContaining("attempt 2 of"),
    });
    clock.advance(vtexRetryScheduleMs[1]! * 1.2);
    expect((await runDueConnectorJobs(t.services)).map((run) => run.result.outcome)).toEqual(["done"]);

    expect(oms.requests).toHaveLength(3);
    expect(oms.requests[2]).toMatchObject({
      method: "GET",
      url: "/api/oms/pvt/orders/1389581234567-01",
      headers: expect.objectContaining({
        "x-vtex-api-appkey": "vtexappkey-tiendacafe-ABCDEF",
        "x-vtex-api-apptoken": "APP-TOKEN-SECRET",
      }),
    });
    const settled = await (await t.request(`/v1/connectors/${vtex.id}/deliveries`, { key })).json();
    expect(settled.data[0]).toMatchObject({
      status: "created",
      platform_order_id: "1389581234567-01",
      external_id: "vtex:1389581234567-01",
    });
    const order = await (await t.request(`/v1/orders/${settled.data[0].order_id}`, { key })).json();
    expect(order).toMatchObject({
      external_id: "vtex:1389581234567-01",
      recipient: { name: "Camila Ríos", phone: "+573157654321", email: "camila.rios@example.com" },
      destination: {
        address_line1: "Avenida 6 Norte 23-45",
        address_line2: "Casa 3, Granada",
        city: "Cali",
        region: "Valle del Cauca",
        postal_code: "760042",
        country: "CO",
        latitude: 3.4629,
        longitude: -76.5322,
      },
      packages: [
        {
          weight_kg: 1.2,
          length_cm: 20,
          width_cm: 15,
          height_cm: 45,
          description: "Lámpara LED de escritorio",
          declared_value: 239900,
        },
      ],
      notes: "Frente al parque",
      metadata: {
        source: "vtex",
        platform_order_id: "1389581234567-01",
        order_number: "502345",
        connector_id: vtex.id,
      },
    });
    const { rows: history } = await t.services.db.query(
      "select actor from order_status_history where order_id = $1",
      [order.id],
    );
    expect(history).toEqual([{ actor: "connector:vtex" }]);
    const { rows: events } = await t.services.db.query("select type from events where order_id = $1", [
      order.id,
    ]);
    expect(events).toEqual([{ type: "ORDER_CREATED" }]);
    expect(await countRows(t, "connector_jobs")).toBe(0);
    // A replay after the fact changes nothing.
    expect(await (await hook(notification)).json()).toMatchObject({ status: "created", replayed: true });
    expect(await countRows(t, "connector_jobs")).toBe(0);
  });

  it("skips states the connector does not ship, and makes a later state of the same order a duplicate", async () => {
    const invoiced = await hook({
      ...notification,
      State: "invoiced",
      CurrentChange: "2026-11-23T10:00:00Z",
    });
    expect(await invoiced.json()).toMatchObject({
      status: "skipped",
      detail: expect.stringContaining("invoiced"),
    });
    await t.request(`/v1/connectors/${vtex.id}`, {
      method: "PATCH",
      key,
      json: { settings: { states: ["ready-for-handling", "handling"] } },
    });
    await hook({ ...notification, State: "handling", CurrentChange: "2026-11-23T11:00:00Z" });
    await runDueConnectorJobs(t.services);
    const list = await (
      await t.request(`/v1/connectors/${vtex.id}/deliveries?status=duplicate`, { key })
    ).json();
    expect(list.data).toHaveLength(1);
    expect(await countRows(t, "orders")).toBe(1);
  });

  it("gives up after the last attempt, visibly, and can be retried by hand", async () => {
    const response = await hook({
      ...notification,
      OrderId: "missing-01",
      CurrentChange: "2026-11-24T00:00:00Z",
    });
    const { delivery_id: deliveryId } = await response.json();
    for (let attempt = 1; attempt <= vtexMaxAttempts; attempt++) {
      const runs = await runDueConnectorJobs(t.services);
      expect(runs).toHaveLength(1);
      expect(runs[0]!.result.outcome).toBe(attempt < vtexMaxAttempts ? "retry" : "failed");
      clock.advance(25 * hour);
    }
    const failed = await (
      await t.request(`/v1/connectors/${vtex.id}/deliveries?status=failed`, { key })
    ).json();
    expect(failed.data).toEqual([
      expect.objectContaining({
        id: deliveryId,
        status: "failed",
        detail: expect.stringContaining("answered 404"),
      }),
    ]);
    expect(await runDueConnectorJobs(t.services)).toEqual([]);

    const retry = await t.request(`/v1/connectors/${vtex.id}/deliveries/${deliveryId}/retry`, {
      method: "POST",
      key,
    });
    expect(retry.status).toBe(202);
    expect(await retry.json()).toMatchObject({ status: "pending" });
    const runs = await runDueConnectorJobs(t.services);
    expect(runs.map((run) => run.job.attempts)).toEqual([1]);
    const created = await (
      await t.request(`/v1/connectors/${vtex.id}/deliveries/${deliveryId}/retry`, { method: "POST", key })
    ).json();
    expect(created.code).toBe("conflict");
  });

  it("takes over a job whose worker died, once its lease expires", async () => {
    await hook({ ...notification, OrderId: "1389581234567-02", CurrentChange: "2026-11-25T00:00:00Z" });
    // A worker claims the job and dies: nothing completes it.
    // Only this job: the hand-retried one of the previous test is still backing off.
    await t.services.db.query("delete from connector_jobs where payload->>'order_id' <> '1389581234567-02'");
    await t.services.db.query(
      "update connector_jobs set status = 'running', locked_until = $1, attempts = 1",
      [new Date(clock.now().getTime() + jobLeaseMs)],
    );
    expect(await runDueConnectorJobs(t.services)).toEqual([]);
    clock.advance(jobLeaseMs + 1000);
    const runs = await runDueConnectorJobs(t.services);
    expect(runs.map((run) => [run.job.attempts, run.result.outcome])).toEqual([[2, "done"]]);
    expect(await countRows(t, "orders", "external_id = 'vtex:1389581234567-02'")).toBe(1);
  });
});

/** A fake Magento REST API implementing the /V1/orders search the poller sends. */
function fakeMagento(orders: Json[]) {
  return new FakePlatform((request) => {
    if (request.headers.authorization !== "Bearer integration-token")
      return { status: 401, body: { message: "unauthorized" } };
    const url = new URL(request.url, "http://fake");
    if (url.pathname !== "/rest/default/V1/orders") return { status: 404, body: { message: "no route" } };
    const param = (name: string) => url.searchParams.get(name);
    const after = Number(param("searchCriteria[filter_groups][0][filters][0][value]"));
    const since = param("searchCriteria[filter_groups][1][filters][0][value]") ?? "";
    expect(param("searchCriteria[filter_groups][0][filters][0][field]")).toBe("entity_id");
    expect(param("searchCriteria[filter_groups][0][filters][0][condition_type]")).toBe("gt");
    expect(param("searchCriteria[sortOrders][0][direction]")).toBe("ASC");
    const size = Number(param("searchCriteria[pageSize]"));
    const matching = orders
      .filter((order) => Number(order.entity_id) > after && String(order.created_at) >= since)
      .sort((a, b) => Number(a.entity_id) - Number(b.entity_id));
    return { status: 200, body: { items: matching.slice(0, size), total_count: matching.length } };
  });
}

describe.each(dbKinds)("Magento poller on %s", (kind) => {
  let t: TestContext;
  let key: string;
  const clock = new MovableClock(new Date("2026-11-23T09:00:00.000Z"));
  const base = fixtureJson<Json>("magento/order.json");
  const order = (id: number, extra: Json = {}): Json => ({
    ...structuredClone(base),
    entity_id: id,
    increment_id: String(id).padStart(9, "0"),
    created_at: "2026-11-23 09:12:45",
    ...extra,
  });
  // Orders from before polling began, the fixture, a bulk of new ones and one still awaiting payment.
  const orders: Json[] = [
    order(4000, { created_at: "2026-11-01 10:00:00" }),
    order(4521),
    ...Array.from({ length: magentoPageSize + 5 }, (_, i) => order(5000 + i)),
    order(6000, { state: "pending_payment" }),
    order(6001),
  ];
  const magento = fakeMagento(orders);
  let connector: Awaited<ReturnType<typeof createConnector>>;

  beforeAll(async () => {
    await magento.start();
    t = await createTestContext(kind, { env: connectorEnv, clock });
    key = (await t.newTenant()).apiKey;
    connector = await createConnector(t, key, {
      platform: "magento",
      settings: { base_url: `${magento.url}/rest/default/`, poll_enabled: true, poll_interval_seconds: 300 },
      credentials: { access_token: "integration-token" },
    });
  });
  afterAll(async () => {
    await t.close();
    await magento.stop();
  });

  it("starts from the time polling was turned on, and says when it polls next", () => {
    expect(connector.settings).toMatchObject({
      base_url: `${magento.url}/rest/default`,
      poll_since: "2026-11-23T09:00:00.000Z",
    });
    expect(connector.poll).toEqual({
      cursor: null,
      last_polled_at: null,
      last_error: null,
      next_poll_at: "2026-11-23T09:00:00.000Z",
    });
  });

  it("backs off while Magento fails and recovers without losing or repeating an order", async () => {
    magento.failNext(1, 500);
    expect((await runDueConnectorJobs(t.services)).map((run) => run.result.outcome)).toEqual(["retry"]);
    const failing = await (await t.request(`/v1/connectors/${connector.id}`, { key })).json();
    expect(failing.poll.last_error).toContain("answered 500");
    expect(await countRows(t, "orders")).toBe(0);

    clock.advance(60_000);
    expect((await runDueConnectorJobs(t.services)).map((run) => run.result.outcome)).toEqual(["done"]);
    // Every order since polling began except the one awaiting payment; the old one is not imported.
    expect(await countRows(t, "orders")).toBe(1 + magentoPageSize + 5 + 1);
    expect(await countRows(t, "orders", "external_id = 'magento:4000'")).toBe(0);
    const fixtureOrder = await t.services.db.query<Json>(
      "select * from orders where external_id = 'magento:4521'",
    );
    expect(fixtureOrder.rows[0]).toMatchObject({
      recipient: { name: "Julián Mora", phone: "6013456789", email: "julian.mora@example.com" },
      packages: [
        { weight_kg: 3.2, description: "2 × Tabla de madera, Juego de cuchillos", declared_value: 312000 },
      ],
      currency: "COP",
    });
    const state = await (await t.request(`/v1/connectors/${connector.id}`, { key })).json();
    // The cursor waits below the unpaid order.
    expect(state.poll).toMatchObject({
      cursor: 5999,
      last_error: null,
      last_polled_at: clock.now().toISOString(),
    });

    // Not due before the interval.
    expect(await runDueConnectorJobs(t.services)).toEqual([]);
    // Paid meanwhile: the next poll creates it and moves past it; the rest are not created twice.
    orders.find((o) => o.entity_id === 6000)!.state = "processing";
    clock.advance(300_000);
    expect((await runDueConnectorJobs(t.services)).map((run) => run.result.outcome)).toEqual(["done"]);
    expect(await countRows(t, "orders", "external_id = 'magento:6000'")).toBe(1);
    expect(await countRows(t, "orders")).toBe(1 + magentoPageSize + 5 + 2);
    expect((await (await t.request(`/v1/connectors/${connector.id}`, { key })).json()).poll.cursor).toBe(
      6001,
    );
  });

  it("polls on demand, and an order also pushed by a webhook is created once", async () => {
    orders.push(order(6002));
    const webhook = await t.request(inboundPath(connector), {
      method: "POST",
      body: JSON.stringify(orders.at(-1)),
      headers: {
        "content-type": "application/json",
        "x-cellvi-hook-token": connector.generated_credentials.hook_token!,
      },
    });
    expect(await webhook.json()).toMatchObject({ status: "created" });
    const now = await t.request(`/v1/connectors/${connector.id}/poll`, { method: "POST", key });
    expect(now.status).toBe(202);
    await runDueConnectorJobs(t.services);
    expect(await countRows(t, "orders", "external_id = 'magento:6002'")).toBe(1);
    expect((await (await t.request(`/v1/connectors/${connector.id}`, { key })).json()).poll.cursor).toBe(
      6002,
    );
  });

  it("stops polling when turned off, and the worker loop drains jobs by itself", async () => {
    const off = await t.request(`/v1/connectors/${connector.id}`, {
      method: "PATCH",
      key,
      json: { settings: { poll_enabled: false } },
    });
    expect((await off.json()).poll).toBeNull();
    expect(await countRows(t, "connector_jobs")).toBe(0);
    expect((await t.request(`/v1/connectors/${connector.id}/poll`, { method: "POST", key })).status).toBe(
      409,
    );

    orders.push(order(6003));
    const on = await t.request(`/v1/connectors/${connector.id}`, {
      method: "PATCH",
      key,
      json: { settings: { poll_enabled: true, poll_since: "2026-11-23T00:00:00Z" } },
    });
    expect((await on.json()).poll).toMatchObject({ cursor: null });
    const worker = await startConnectorWorker(t.services, { pollMs: 50 });
    try {
      for (let i = 0; i < 200 && (await countRows(t, "orders", "external_id = 'magento:6003'")) === 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    } finally {
      await worker.stop();
    }
    expect(await countRows(t, "orders", "external_id = 'magento:6003'")).toBe(1);
    // Starting over from an earlier time re-reads orders, and creates none twice.
    expect(await countRows(t, "orders", "external_id = 'magento:4521'")).toBe(1);
  });
});
