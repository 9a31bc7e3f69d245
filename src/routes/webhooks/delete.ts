import { createRoute } from "@hono/zod-openapi";
import { deleteSubscription } from "../../domain/webhooks/subscriptions.ts";
import { authenticate } from "../../http/auth.ts";
import type { App } from "../../http/context.ts";
import { ApiError, errorResponses } from "../../http/problem.ts";
import { SubscriptionIdParam } from "./schemas.ts";

export const deleteWebhookRoute = createRoute({
  method: "delete",
  path: "/v1/webhooks/{id}",
  tags: ["Webhooks"],
  operationId: "deleteWebhook",
  summary: "Delete a subscription",
  description:
    "Deletes the subscription with its delivery log. Queued deliveries are dropped; an attempt already in flight still completes.",
  security: [{ ApiKey: [] }],
  middleware: [authenticate("webhooks:manage")] as const,
  request: { params: SubscriptionIdParam },
  responses: {
    204: { description: "Deleted" },
    ...errorResponses("unauthorized", "forbidden", "not_found", "quota_exceeded", "internal_error"),
  },
});

export function registerDeleteWebhook(app: App): void {
  app.openapi(deleteWebhookRoute, async (c) => {
    const deleted = await deleteSubscription(c.var.services.db, c.var.auth, c.req.valid("param").id);
    if (!deleted) throw new ApiError("not_found", "No webhook subscription with this id.");
    return c.body(null, 204);
  });
}
