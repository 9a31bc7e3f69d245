import { createRoute, z } from "@hono/zod-openapi";
import {
  decodeDeliveryCursor,
  encodeDeliveryCursor,
  listDeliveries,
} from "../../domain/webhooks/deliveries.ts";
import { testEventType, webhookEventTypes } from "../../domain/webhooks/event-types.ts";
import { getSubscription } from "../../domain/webhooks/subscriptions.ts";
import { authenticate } from "../../http/auth.ts";
import type { App } from "../../http/context.ts";
import { ApiError, errorResponses } from "../../http/problem.ts";
import { DeliveryListSchema, SubscriptionIdParam, toDelivery } from "./schemas.ts";

const DeliveriesQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20).openapi({ example: 20 }),
  cursor: z.string().max(200).optional().openapi({ description: "`next_cursor` of the previous page." }),
  status: z.enum(["pending", "succeeded", "failed"]).optional().openapi({
    description: "Only deliveries in this state (`pending` includes those being sent).",
  }),
  event_id: z.string().max(100).optional().openapi({ description: "Only the delivery of this event." }),
  event_type: z
    .enum([...webhookEventTypes, testEventType])
    .optional()
    .openapi({ description: "Only deliveries of this event type." }),
});

export const listDeliveriesRoute = createRoute({
  method: "get",
  path: "/v1/webhooks/{id}/deliveries",
  tags: ["Webhooks"],
  operationId: "listWebhookDeliveries",
  summary: "Delivery log",
  description:
    "The subscription's deliveries, newest first, each with every attempt: attempt number, time, status code, duration, error, the start of your endpoint's answer, and when the next retry is due. Cursor-paginated.",
  security: [{ ApiKey: [] }],
  middleware: [authenticate("webhooks:manage")] as const,
  request: { params: SubscriptionIdParam, query: DeliveriesQuery },
  responses: {
    200: {
      description: "A page of deliveries",
      content: { "application/json": { schema: DeliveryListSchema } },
    },
    ...errorResponses(
      "validation_failed",
      "unauthorized",
      "forbidden",
      "not_found",
      "quota_exceeded",
      "internal_error",
    ),
  },
});

export function registerListDeliveries(app: App): void {
  app.openapi(listDeliveriesRoute, async (c) => {
    const services = c.var.services;
    const query = c.req.valid("query");
    const subscriptionId = c.req.valid("param").id;
    let cursor: number | undefined;
    if (query.cursor !== undefined) {
      const decoded = decodeDeliveryCursor(query.cursor);
      if (decoded === null) {
        throw new ApiError("validation_failed", "The cursor is not one this API returned.", {
          errors: [{ path: "/cursor", message: "invalid cursor" }],
        });
      }
      cursor = decoded;
    }
    const subscription = await getSubscription(services.db, c.var.auth, subscriptionId);
    if (!subscription) throw new ApiError("not_found", "No webhook subscription with this id.");
    const page = await listDeliveries(services.db, c.var.auth, subscriptionId, {
      limit: query.limit,
      cursor,
      status: query.status,
      eventId: query.event_id,
      eventType: query.event_type,
    });
    const now = services.clock.now();
    return c.json(
      {
        object: "list" as const,
        data: page.rows.map((row) => toDelivery(row, now)),
        has_more: page.nextCursor !== null,
        next_cursor: page.nextCursor === null ? null : encodeDeliveryCursor(page.nextCursor),
      },
      200,
    );
  });
}
