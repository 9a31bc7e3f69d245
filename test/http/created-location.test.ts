import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRecordingWebhookSender } from "../../src/adapters/sender/recording.ts";
import { openApiDocument } from "../../src/app.ts";
import { createTestContext, orderBody, type TestContext } from "../support/app.ts";
import { dbKinds } from "../support/db.ts";

/**
 * Every 201 says where the created resource lives (`Location`), so a client's next call needs no URL built by hand:
 * the OpenAPI document promises the header on every 201, and each such operation is exercised here.
 */
const created: [string, string][] = [
  ["post", "/v1/orders/create"],
  ["post", "/v1/webhooks/subscribe"],
  ["post", "/v1/keys"],
  ["post", "/v1/keys/{id}/rotate"],
  ["post", "/v1/connectors"],
];

describe.each(dbKinds)("Location on every 201 on %s", (kind) => {
  let t: TestContext;
  let key: string;
  beforeAll(async () => {
    const sender = createRecordingWebhookSender({ hosts: { "hooks.example.com": ["93.184.215.14"] } });
    t = await createTestContext(kind, { webhookSender: sender });
    key = (await t.newTenant()).apiKey;
  });
  afterAll(() => t.close());

  /** POSTs, expects 201, then reads the Location back with the same key and returns both bodies. */
  async function createAndFollow(path: string, json: unknown, headers: Record<string, string> = {}) {
    const response = await t.request(path, { method: "POST", key, json, headers });
    expect(response.status, path).toBe(201);
    const body = await response.json();
    const location = response.headers.get("location");
    expect(location, `${path} Location`).toMatch(/^\/v1\//);
    const read = await t.request(location!, { key });
    expect(read.status, `GET ${location}`).toBe(200);
    return { body, location: location!, read: await read.json(), headers: response.headers };
  }

  it("is documented on every 201 of the OpenAPI document, and those are the operations tested here", () => {
    const document = openApiDocument(t.app, "http://cellvi.test") as {
      paths: Record<string, Record<string, { responses: Record<string, { headers?: object }> }>>;
    };
    const withCreated: [string, string][] = [];
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const response = operation.responses["201"];
        if (!response) continue;
        withCreated.push([method, path]);
        expect(response.headers, `${method} ${path}`).toHaveProperty("Location");
      }
    }
    expect(withCreated.sort()).toEqual([...created].sort());
  });

  it("points an order's creation, under both paths and when replayed, at the order", async () => {
    const first = await createAndFollow("/v1/orders/create", orderBody());
    expect(first.location).toBe(`/v1/orders/${first.body.id}`);
    expect(first.read.id).toBe(first.body.id);
    const alias = await createAndFollow("/v1/orders", orderBody());
    expect(alias.location).toBe(`/v1/orders/${alias.body.id}`);

    const body = orderBody();
    const once = await createAndFollow("/v1/orders/create", body, { "idempotency-key": "loc-1" });
    const replay = await createAndFollow("/v1/orders/create", body, { "idempotency-key": "loc-1" });
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.location).toBe(once.location);
  });

  it("points a webhook subscription, a key and its rotation, and a connector at what they created", async () => {
    const webhook = await createAndFollow("/v1/webhooks/subscribe", {
      url: "https://hooks.example.com/cellvi",
      events: ["*"],
    });
    expect(webhook.location).toBe(`/v1/webhooks/${webhook.body.id}`);

    const apiKey = await createAndFollow("/v1/keys", { name: "reporting", scopes: ["orders:read"] });
    expect(apiKey.location).toBe(`/v1/keys/${apiKey.body.id}`);
    const rotated = await createAndFollow(`/v1/keys/${apiKey.body.id}/rotate`, {});
    expect(rotated.location).toBe(`/v1/keys/${rotated.body.id}`);
    expect(rotated.body.id).not.toBe(apiKey.body.id);

    const connector = await createAndFollow("/v1/connectors", {
      platform: "woocommerce",
      name: "Tienda",
    });
    expect(connector.location).toBe(`/v1/connectors/${connector.body.id}`);
  });
});
