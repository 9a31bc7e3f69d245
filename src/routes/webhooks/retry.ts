import { createRoute } from "@hono/zod-openapi";
import { getDeliveryWithAttempts, retryDelivery } from "../../domain/webhooks/deliveries.ts";
import { authenticate } from "../../http/auth.ts";
import type { App } from "../../http/context.ts";
import { ApiError, errorResponses } from "../../http/problem.ts";
import { DeliveryIdParam, DeliverySchema, toDelivery } from "./schemas.ts";

export const retryDeliveryRoute = createRoute({
  method: "post",
  path: "/v1/webhooks/deliveries/{delivery_id}/retry",
  tags: ["Webhooks"],
  operationId: "retryWebhookDelivery",
  summary: "Retry a delivery",
  description:
    "Queues one more attempt of a finished delivery (failed, or succeeded if you need it again), due now, with the same body and `webhook-id`. A manual retry is a single attempt. 409 if the delivery is still pending or its subscription is disabled (enable it first).",
  security: [{ ApiKey: [] }],
  middleware: [authenticate("webhooks:manage")] as const,
  request: { params: DeliveryIdParam },
  responses: {
    202: {
      description: "Queued; the dispatcher sends it within moments",
      content: { "application/json": { schema: DeliverySchema } },
    },
    ...errorResponses(
      "unauthorized",
      "forbidden",
      "not_found",
      "conflict",
      "quota_exceeded",
      "internal_error",
    ),
  },
});

export function registerRetryDelivery(app: App): void {
  app.openapi(retryDeliveryRoute, async (c) => {
    const services = c.var.services;
    const id = c.req.valid("param").delivery_id;
    const result = await retryDelivery(services.db, c.var.auth, id, services.clock.now());
    if (result.kind === "not_found") throw new ApiError("not_found", "No webhook delivery with this id.");
    if (result.kind === "already_pending") {
      throw new ApiError("conflict", "This delivery is still pending: it will be attempted on schedule.");
    }
    if (result.kind === "subscription_disabled") {
      throw new ApiError(
        "conflict",
        "The delivery's subscription is disabled: enable it (PATCH enabled=true) before retrying.",
      );
    }
    const delivery = await getDeliveryWithAttempts(services.db, c.var.auth, id);
    if (!delivery) throw new ApiError("not_found", "No webhook delivery with this id.");
    return c.json(toDelivery(delivery, services.clock.now()), 202);
  });
}
