import { createRoute, z } from "@hono/zod-openapi";
import { sendTestEvent } from "../../domain/webhooks/deliveries.ts";
import { getSubscription } from "../../domain/webhooks/subscriptions.ts";
import { authenticate } from "../../http/auth.ts";
import type { App } from "../../http/context.ts";
import { ApiError, errorResponses } from "../../http/problem.ts";
import { SubscriptionIdParam } from "./schemas.ts";

const TestResultSchema = z
  .object({
    object: z.literal("webhook_test"),
    delivery_id: z.string().openapi({ example: "dlv_8c1f0e2d3b4a49568798a0b1c2d3e4f5" }),
    event_id: z.string().openapi({ example: "evt_5b7c0d1e2f3a4b5c6d7e8f9a0b1c2d3e" }),
    event_type: z.literal("WEBHOOK_TEST"),
    success: z.boolean().openapi({ description: "true when your endpoint answered 2xx." }),
    status_code: z.number().int().nullable().openapi({ example: 200 }),
    duration_ms: z.number().int().openapi({ example: 84 }),
    error: z.string().nullable().openapi({ example: null }),
    response_body: z.string().nullable().openapi({ description: "The first KiB of your endpoint's answer." }),
  })
  .openapi("WebhookTestResult");

export const testWebhookRoute = createRoute({
  method: "post",
  path: "/v1/webhooks/{id}/test",
  tags: ["Webhooks"],
  operationId: "testWebhook",
  summary: "Send a test event",
  description:
    "Sends a signed `WEBHOOK_TEST` event to the subscription now and answers with the outcome of that attempt (200 even when your endpoint failed: look at `success`). It appears in the delivery log and is not retried automatically. Works on disabled subscriptions too, so you can check a fix before enabling.",
  security: [{ ApiKey: [] }],
  middleware: [authenticate("webhooks:manage")] as const,
  request: { params: SubscriptionIdParam },
  responses: {
    200: {
      description: "The attempt's outcome",
      content: { "application/json": { schema: TestResultSchema } },
    },
    ...errorResponses("unauthorized", "forbidden", "not_found", "quota_exceeded", "internal_error"),
  },
});

export function registerTestWebhook(app: App): void {
  app.openapi(testWebhookRoute, async (c) => {
    const services = c.var.services;
    const subscription = await getSubscription(services.db, c.var.auth, c.req.valid("param").id);
    if (!subscription) throw new ApiError("not_found", "No webhook subscription with this id.");
    const { delivery, report } = await sendTestEvent(services, c.var.auth, subscription);
    const { record } = report;
    return c.json(
      {
        object: "webhook_test" as const,
        delivery_id: delivery.id,
        event_id: delivery.event_id,
        event_type: "WEBHOOK_TEST" as const,
        success: record.outcome === "succeeded",
        status_code: record.statusCode,
        duration_ms: record.durationMs,
        error: record.error,
        response_body: record.responseBody,
      },
      200,
    );
  });
}
