import { createRoute } from "@hono/zod-openapi";
import { getSubscription } from "../../domain/webhooks/subscriptions.ts";
import { authenticate } from "../../http/auth.ts";
import type { App } from "../../http/context.ts";
import { ApiError, errorResponses } from "../../http/problem.ts";
import { SubscriptionIdParam, SubscriptionSchema, toSubscription } from "./schemas.ts";

export const getWebhookRoute = createRoute({
  method: "get",
  path: "/v1/webhooks/{id}",
  tags: ["Webhooks"],
  operationId: "getWebhook",
  summary: "Retrieve a subscription",
  description:
    "One of your subscriptions (never its secret). Subscriptions of other tenants, and of the other mode, are 404.",
  security: [{ ApiKey: [] }],
  middleware: [authenticate("webhooks:manage")] as const,
  request: { params: SubscriptionIdParam },
  responses: {
    200: { description: "The subscription", content: { "application/json": { schema: SubscriptionSchema } } },
    ...errorResponses("unauthorized", "forbidden", "not_found", "quota_exceeded", "internal_error"),
  },
});

export function registerGetWebhook(app: App): void {
  app.openapi(getWebhookRoute, async (c) => {
    const services = c.var.services;
    const row = await getSubscription(services.db, c.var.auth, c.req.valid("param").id);
    if (!row) throw new ApiError("not_found", "No webhook subscription with this id.");
    return c.json(toSubscription(row, services.clock.now()), 200);
  });
}
