import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type DeliveredEventType,
  deliveredEventTypes,
  webhookEventSchema,
} from "../../src/routes/docs/webhook-events.ts";
import { createTestContext, orderBody, type TestContext } from "../support/app.ts";
import { dbKinds } from "../support/db.ts";

/**
 * The documented webhook payloads are a contract on what the database writes (0001/0002 triggers build `data`,
 * 0003's fan-out builds the body): drive real orders through every event and validate the exact bodies queued for
 * delivery against the documented schema of their type.
 */
describe.each(dbKinds)("documented webhook events match what is delivered (%s)", (kind) => {
  let ctx: TestContext;
  let apiKey: string;
  beforeAll(async () => {
    ctx = await createTestContext(kind, { env: { WEBHOOK_ALLOW_PRIVATE_URLS: "true" } });
    ({ apiKey } = await ctx.newTenant());
  }, 60_000);
  afterAll(async () => {
    await ctx?.close();
  });

  async function post(path: string, json: unknown): Promise<Record<string, unknown>> {
    const response = await ctx.request(path, { method: "POST", json, key: apiKey });
    const body = (await response.json()) as Record<string, unknown>;
    expect(response.status, JSON.stringify(body)).toBeLessThan(300);
    return body;
  }

  it("every event type's body validates against its schema, and every type is produced", async () => {
    // No dispatcher runs in this context: deliveries stay queued with their bodies.
    const subscription = (await post("/v1/webhooks/subscribe", {
      url: "http://127.0.0.1:9/webhooks",
      events: ["*"],
    })) as { id: string };
    // The on-demand test event is attempted at once (and fails: nothing listens on port 9), then logged.
    await post(`/v1/webhooks/${subscription.id}/test`, {});
    const delivered = (await post("/v1/orders/create", orderBody())) as { id: string };
    await post(`/v1/sandbox/orders/${delivered.id}/simulate`, { scenario: "happy_path" });
    const failed = (await post("/v1/orders/create", orderBody())) as { id: string };
    await post(`/v1/sandbox/orders/${failed.id}/simulate`, { event: "DRIVER_ASSIGNED" });
    await post(`/v1/sandbox/orders/${failed.id}/simulate`, { event: "EXCEPTION" });

    const { rows } = await ctx.services.db.query<{ event_type: string; body: string }>(
      "select event_type, body from webhook_deliveries order by created_at, id",
    );
    const seen = new Set<string>();
    for (const row of rows) {
      const type = row.event_type as DeliveredEventType;
      expect(deliveredEventTypes, `undocumented event type ${row.event_type}`).toContain(type);
      const result = webhookEventSchema(type).safeParse(JSON.parse(row.body));
      expect(result.success, `${type}: ${JSON.stringify(result.error?.issues)}\n${row.body}`).toBe(true);
      seen.add(type);
    }
    expect([...seen].sort()).toEqual([...deliveredEventTypes].sort());
  });
});
