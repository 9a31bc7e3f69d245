import { generateKeyPairSync, sign } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, type TestContext } from "../support/app.ts";
import { dbKinds } from "../support/db.ts";
import {
  connectorEnv,
  countRows,
  createConnector,
  fixtureJson,
  fixtureText,
  hmacBase64,
  inboundPath,
} from "./support.ts";

type Json = Record<string, unknown>;

/** The order as the API shows it, and its first history row and event: what POST /v1/orders/create would produce. */
async function orderState(t: TestContext, key: string, orderId: string) {
  const order = await (await t.request(`/v1/orders/${orderId}`, { key })).json();
  const { rows: history } = await t.services.db.query<{ status: string; actor: string }>(
    "select status, actor from order_status_history where order_id = $1 order by id",
    [orderId],
  );
  const { rows: events } = await t.services.db.query<{ type: string; payload: Json }>(
    "select type, payload from events where order_id = $1 order by seq",
    [orderId],
  );
  return { order, history, events };
}

describe.each(dbKinds)("Shopify and WooCommerce webhooks on %s", (kind) => {
  let t: TestContext;
  let key: string;
  const shopifySecret = "shpss_0123456789abcdef";
  let shopify: Awaited<ReturnType<typeof createConnector>>;
  const fixture = fixtureText("shopify/orders-create.json");

  beforeAll(async () => {
    t = await createTestContext(kind, { env: connectorEnv });
    key = (await t.newTenant()).apiKey;
    shopify = await createConnector(t, key, {
      platform: "shopify",
      credentials: { webhook_secret: shopifySecret },
    });
  });
  afterAll(() => t.close());

  function sendShopify(body: string, headers: Record<string, string> = {}) {
    return t.request(inboundPath(shopify), {
      method: "POST",
      body,
      headers: {
        "content-type": "application/json",
        "x-shopify-topic": "orders/create",
        "x-shopify-shop-domain": "tienda-cafe.myshopify.com",
        "x-shopify-webhook-id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        "x-shopify-hmac-sha256": hmacBase64(shopifySecret, body),
        ...headers,
      },
    });
  }

  it("refuses a tampered or unsigned delivery with 401 and creates nothing", async () => {
    const tampered = fixture.replace("Calle 100 # 15-20", "Calle 101 # 15-20");
    const forged = await sendShopify(tampered, {
      "x-shopify-hmac-sha256": hmacBase64(shopifySecret, fixture),
    });
    expect(forged.status).toBe(401);
    expect(forged.headers.get("content-type")).toContain("application/problem+json");
    expect((await forged.json()).code).toBe("invalid_signature");
    expect(
      (await sendShopify(fixture, { "x-shopify-hmac-sha256": hmacBase64("another-secret", fixture) })).status,
    ).toBe(401);
    const unsigned = await t.request(inboundPath(shopify), {
      method: "POST",
      body: fixture,
      headers: { "content-type": "application/json" },
    });
    expect(unsigned.status).toBe(401);
    expect(await countRows(t, "orders")).toBe(0);
    expect(await countRows(t, "connector_deliveries")).toBe(0);
  });

  it("creates the fixture's order exactly as POST /v1/orders/create would, with ORDER_CREATED", async () => {
    const response = await sendShopify(fixture);
    expect(response.status).toBe(200);
    const ack = await response.json();
    expect(ack).toMatchObject({
      received: true,
      status: "created",
      replayed: false,
      tracking_number: expect.any(String),
    });
    const { order, history, events } = await orderState(t, key, ack.order_id);
    expect(order).toMatchObject({
      object: "order",
      mode: "test",
      status: "CREATED",
      external_id: "shopify:5861234567890",
      recipient: { name: "Laura Gómez", phone: "+573001234567", email: "laura.gomez@example.com" },
      destination: {
        address_line1: "Calle 100 # 15-20",
        address_line2: "Apto 502",
        city: "Bogotá",
        region: "Bogotá, D.C.",
        postal_code: "110111",
        country: "CO",
        latitude: 4.6867,
        longitude: -74.0483,
      },
      origin: null,
      packages: [
        { weight_kg: 1.85, description: "Cafetera de goteo, 2 × Café molido 200 g", declared_value: 189900 },
      ],
      cod_amount: null,
      currency: "COP",
      service_level: null,
      notes: "Entregar en portería",
      metadata: {
        source: "shopify",
        platform_order_id: "5861234567890",
        order_number: "#1042",
        connector_id: shopify.id,
      },
      tracking_number: ack.tracking_number,
    });
    expect(history).toEqual([{ status: "CREATED", actor: "connector:shopify" }]);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: "ORDER_CREATED",
      payload: { order_id: ack.order_id, external_id: "shopify:5861234567890", status: "CREATED" },
    });
  });

  it("answers a retry of the same delivery with its first outcome and creates nothing more", async () => {
    const replay = await sendShopify(fixture);
    expect(replay.status).toBe(200);
    expect(await replay.json()).toMatchObject({ status: "created", replayed: true });
    expect(await countRows(t, "orders")).toBe(1);
    const { rows } = await t.services.db.query<{ attempts: number }>(
      "select attempts from connector_deliveries",
    );
    expect(rows).toEqual([{ attempts: 2 }]);
  });

  it("creates one order when the same delivery, or the same order, arrives many times at once", async () => {
    const order = fixtureJson<Json>("shopify/orders-create.json");
    order.id = 5861234560001;
    const body = JSON.stringify(order);
    const sameDelivery = await Promise.all(
      Array.from({ length: 6 }, () => sendShopify(body, { "x-shopify-webhook-id": "burst-1" })),
    );
    const sameOrder = await Promise.all(
      Array.from({ length: 4 }, (_, i) => sendShopify(body, { "x-shopify-webhook-id": `burst-other-${i}` })),
    );
    const acks = await Promise.all([...sameDelivery, ...sameOrder].map((response) => response.json()));
    expect(acks.every((ack) => ack.received === true)).toBe(true);
    expect(acks.filter((ack) => ack.status === "created")).toHaveLength(6);
    expect(acks.filter((ack) => ack.status === "created" && ack.replayed === false)).toHaveLength(1);
    expect(acks.filter((ack) => ack.status === "duplicate")).toHaveLength(4);
    expect(new Set(acks.map((ack) => ack.order_id)).size).toBe(1);
    expect(await countRows(t, "orders", "external_id = 'shopify:5861234560001'")).toBe(1);
    expect(
      await countRows(
        t,
        "events e join orders o on o.id = e.order_id",
        "o.external_id = 'shopify:5861234560001'",
      ),
    ).toBe(1);
    const { rows } = await t.services.db.query<{ attempts: number }>(
      "select attempts from connector_deliveries where delivery_key = 'burst-1'",
    );
    expect(rows).toEqual([{ attempts: 6 }]);
    await t.services.db.query("delete from orders where external_id = 'shopify:5861234560001'");
  });

  it("records another delivery of the same order as a duplicate of the existing order", async () => {
    const again = await sendShopify(fixture, { "x-shopify-webhook-id": "another-delivery-id" });
    const ack = await again.json();
    expect(ack).toMatchObject({ status: "duplicate", replayed: false });
    const { rows } = await t.services.db.query<{ id: string }>("select id from orders");
    expect(rows).toHaveLength(1);
    expect(ack.order_id).toBe(rows[0]!.id);
  });

  it("acknowledges an order with nothing to ship, and the skip is listed", async () => {
    const digital = fixtureJson<Json>("shopify/orders-create.json");
    digital.id = 5861234567999;
    for (const item of digital.line_items as Json[]) item.requires_shipping = false;
    const body = JSON.stringify(digital);
    const response = await sendShopify(body, { "x-shopify-webhook-id": "digital-1" });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      status: "skipped",
      order_id: null,
      detail: "nothing to ship: no line item requires shipping",
    });
    const list = await (
      await t.request(`/v1/connectors/${shopify.id}/deliveries?status=skipped`, { key })
    ).json();
    expect(list.data).toEqual([
      expect.objectContaining({
        delivery_key: "digital-1",
        platform_order_id: "5861234567999",
        status: "skipped",
        detail: "nothing to ship: no line item requires shipping",
      }),
    ]);
    expect(await countRows(t, "orders")).toBe(1);
  });

  it("rejects an unmappable order naming the field, lists it, and creates it once the connector is fixed", async () => {
    const weightless = fixtureJson<Json>("shopify/orders-create.json");
    weightless.id = 5861234568000;
    for (const item of weightless.line_items as Json[]) item.grams = 0;
    const body = JSON.stringify(weightless);
    const rejected = await sendShopify(body, { "x-shopify-webhook-id": "weightless-1" });
    expect(rejected.status).toBe(400);
    const problem = await rejected.json();
    expect(problem).toMatchObject({ code: "validation_failed", delivery_id: expect.any(String) });
    expect(problem.errors).toEqual([
      { path: "/line_items", message: expect.stringContaining("packages.0.weight_kg is required") },
    ]);
    const listed = await (
      await t.request(`/v1/connectors/${shopify.id}/deliveries?status=rejected`, { key })
    ).json();
    expect(listed.data[0]).toMatchObject({ delivery_key: "weightless-1", errors: problem.errors });

    await t.request(`/v1/connectors/${shopify.id}`, {
      method: "PATCH",
      key,
      json: { defaults: { package_weight_kg: 0.5 } },
    });
    const retried = await sendShopify(body, { "x-shopify-webhook-id": "weightless-1" });
    expect(retried.status).toBe(200);
    const ack = await retried.json();
    expect(ack.status).toBe("created");
    const { order } = await orderState(t, key, ack.order_id);
    expect(order.packages).toEqual([
      { weight_kg: 0.5, description: "Cafetera de goteo, 2 × Café molido 200 g", declared_value: 189900 },
    ]);
  });

  it("acknowledges and lists topics it does not handle, and refuses a disabled or unknown connector", async () => {
    const other = await sendShopify(fixture, {
      "x-shopify-topic": "orders/cancelled",
      "x-shopify-webhook-id": "cancel-1",
    });
    expect(await other.json()).toMatchObject({
      status: "skipped",
      detail: expect.stringContaining("orders/cancelled"),
    });
    await t.request(`/v1/connectors/${shopify.id}`, { method: "PATCH", key, json: { enabled: false } });
    expect((await sendShopify(fixture, { "x-shopify-webhook-id": "while-disabled" })).status).toBe(403);
    await t.request(`/v1/connectors/${shopify.id}`, { method: "PATCH", key, json: { enabled: true } });
    const unknown = await t.request("/v1/inbound/shopify/00000000-0000-4000-8000-000000000000", {
      method: "POST",
      body: fixture,
      headers: { "content-type": "application/json" },
    });
    expect(unknown.status).toBe(404);
    const wrongPlatform = await t.request(inboundPath(shopify).replace("/shopify/", "/woocommerce/"), {
      method: "POST",
      body: fixture,
      headers: { "content-type": "application/json" },
    });
    expect(wrongPlatform.status).toBe(404);
  });

  it("WooCommerce: answers the form-encoded ping, verifies the signature and maps the fixture", async () => {
    const woo = await createConnector(t, key, {
      platform: "woocommerce",
      defaults: { package_weight_kg: 0.9, service_level: "standard" },
    });
    const secret = woo.generated_credentials.webhook_secret!;
    const ping = await t.request(inboundPath(woo), {
      method: "POST",
      body: "webhook_id=12",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(ping.status).toBe(200);
    expect(await ping.json()).toEqual({ received: true, ping: true });

    const body = fixtureText("woocommerce/order-created.json");
    const headers = {
      "content-type": "application/json",
      "x-wc-webhook-topic": "order.created",
      "x-wc-webhook-id": "12",
      "x-wc-webhook-delivery-id": "d41d8cd98f00b204e9800998ecf8427e",
      "x-wc-webhook-source": "https://tienda.example.com/",
    };
    const before = await countRows(t, "orders");
    const forged = await t.request(inboundPath(woo), {
      method: "POST",
      body,
      headers: { ...headers, "x-wc-webhook-signature": hmacBase64("wrong", body) },
    });
    expect(forged.status).toBe(401);
    expect((await forged.json()).code).toBe("invalid_signature");
    expect(await countRows(t, "orders")).toBe(before);

    const send = () =>
      t.request(inboundPath(woo), {
        method: "POST",
        body,
        headers: { ...headers, "x-wc-webhook-signature": hmacBase64(secret, body) },
      });
    const response = await send();
    expect(response.status).toBe(200);
    const ack = await response.json();
    expect(ack.status).toBe("created");
    const { order, history } = await orderState(t, key, ack.order_id);
    expect(order).toMatchObject({
      external_id: "woo:7315",
      recipient: { name: "Andrés Peñalosa", phone: "3109876543", email: "andres.penalosa@example.com" },
      destination: {
        address_line1: "Carrera 43A # 1-50",
        address_line2: "Torre 2",
        city: "Medellín",
        region: "ANT",
        postal_code: "050021",
        country: "CO",
      },
      packages: [{ weight_kg: 0.9, description: "Morral impermeable", declared_value: 84500 }],
      currency: "COP",
      service_level: "standard",
      notes: "Llamar antes de llegar",
      metadata: {
        source: "woocommerce",
        platform_order_id: "7315",
        order_number: "7315",
        connector_id: woo.id,
      },
    });
    expect(history).toEqual([{ status: "CREATED", actor: "connector:woocommerce" }]);
    expect(await (await send()).json()).toMatchObject({ replayed: true, order_id: ack.order_id });
    expect(await countRows(t, "orders", "external_id = 'woo:7315'")).toBe(1);

    // A pending order is skipped now, and shipped when order.updated says it is processing.
    const pending = JSON.stringify({ ...JSON.parse(body), id: 7316, number: "7316", status: "pending" });
    const skipped = await t.request(inboundPath(woo), {
      method: "POST",
      body: pending,
      headers: {
        ...headers,
        "x-wc-webhook-delivery-id": "p-1",
        "x-wc-webhook-signature": hmacBase64(secret, pending),
      },
    });
    expect(await skipped.json()).toMatchObject({
      status: "skipped",
      detail: expect.stringContaining('"pending"'),
    });
    const paid = JSON.stringify({ ...JSON.parse(body), id: 7316, number: "7316", status: "processing" });
    const updated = await t.request(inboundPath(woo), {
      method: "POST",
      body: paid,
      headers: {
        ...headers,
        "x-wc-webhook-topic": "order.updated",
        "x-wc-webhook-delivery-id": "p-2",
        "x-wc-webhook-signature": hmacBase64(secret, paid),
      },
    });
    expect(await updated.json()).toMatchObject({ status: "created" });
  });

  it("WooCommerce: a form-encoded body other than the ping is refused", async () => {
    const woo = await createConnector(t, key, { platform: "woocommerce" });
    const response = await t.request(inboundPath(woo), {
      method: "POST",
      body: "id=1&status=processing",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(response.status).toBe(401);
  });

  it("refuses malformed JSON that is correctly signed, and other media types", async () => {
    const broken = '{"id": 1,';
    const response = await sendShopify(broken, { "x-shopify-webhook-id": "broken-1" });
    expect(response.status).toBe(400);
    expect((await response.json()).code).toBe("invalid_json");
    const xml = await t.request(inboundPath(shopify), {
      method: "POST",
      body: "<x/>",
      headers: { "content-type": "application/xml" },
    });
    expect(xml.status).toBe(415);
  });

  it("Magento webhook: authenticated by the hook header or the Adobe Commerce signature, deduplicated by entity_id", async () => {
    const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const magento = await createConnector(t, key, {
      platform: "magento",
      settings: { webhook_public_key: publicKey.export({ type: "spki", format: "pem" }).toString() },
    });
    const token = magento.generated_credentials.hook_token!;
    const body = JSON.stringify({ data: { order: fixtureJson("magento/order.json") } });
    const send = (headers: Record<string, string>) =>
      t.request(inboundPath(magento), {
        method: "POST",
        body,
        headers: { "content-type": "application/json", ...headers },
      });

    expect((await send({ "x-cellvi-hook-token": "wrong" })).status).toBe(401);
    expect(
      (
        await send({
          "x-adobe-commerce-webhook-signature": sign("sha256", Buffer.from("other"), privateKey).toString(
            "base64",
          ),
        })
      ).status,
    ).toBe(401);
    expect(await countRows(t, "orders", "external_id like 'magento:%'")).toBe(0);

    const signature = sign("sha256", Buffer.from(Buffer.from(body).toString("base64")), privateKey).toString(
      "base64",
    );
    const signed = await send({ "x-adobe-commerce-webhook-signature": signature });
    expect(signed.status).toBe(200);
    const ack = await signed.json();
    expect(ack).toMatchObject({ op: "success", status: "created" });
    const { order, history } = await orderState(t, key, ack.order_id);
    expect(order).toMatchObject({
      external_id: "magento:4521",
      recipient: { name: "Julián Mora", phone: "6013456789", email: "julian.mora@example.com" },
      destination: {
        address_line1: "Carrera 7 # 32-16",
        address_line2: "Oficina 801",
        city: "Bogotá",
        region: "Bogotá D.C.",
        postal_code: "110311",
        country: "CO",
      },
      packages: [
        { weight_kg: 3.2, description: "2 × Tabla de madera, Juego de cuchillos", declared_value: 312000 },
      ],
      currency: "COP",
      metadata: {
        source: "magento",
        platform_order_id: "4521",
        order_number: "000004521",
        connector_id: magento.id,
      },
    });
    expect(history).toEqual([{ status: "CREATED", actor: "connector:magento" }]);
    const byHeader = await send({ "x-cellvi-hook-token": token });
    expect(await byHeader.json()).toMatchObject({ op: "success", replayed: true, order_id: ack.order_id });
    expect(await countRows(t, "orders", "external_id = 'magento:4521'")).toBe(1);
  });
});
