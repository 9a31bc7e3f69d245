import { createRoute } from "@hono/zod-openapi";
import { updateSubscription } from "../../domain/webhooks/subscriptions.ts";
import { authenticate } from "../../http/auth.ts";
import type { App } from "../../http/context.ts";
import { ApiError, errorResponses } from "../../http/problem.ts";
import { SubscriptionIdParam, SubscriptionSchema, toSubscription, UpdateBodySchema } from "./schemas.ts";
import { vetSubscriptionUrl } from "./url-rules.ts";

export const updateWebhookRoute = createRoute({
  method: "patch",
  path: "/v1/webhooks/{id}",
  tags: ["Webhooks"],
  operationId: "updateWebhook",
  summary: "Update a subscription",
  description:
    "Changes the URL, the event types, the description, or `enabled`. Disabling fails the deliveries still queued (retry them by hand later); enabling a subscription that was disabled (by you, by a 410, or after failing for 5 days) clears the reason and starts a fresh grace period.",
  security: [{ ApiKey: [] }],
  middleware: [authenticate("webhooks:manage")] as const,
  request: {
    params: SubscriptionIdParam,
    body: {
      required: true,
      content: { "application/json": { schema: UpdateBodySchema, example: { enabled: true } } },
    },
  },
  responses: {
    200: {
      description: "The updated subscription",
      content: { "application/json": { schema: SubscriptionSchema } },
    },
    ...errorResponses(
      "invalid_json",
      "validation_failed",
      "unauthorized",
      "forbidden",
      "not_found",
      "payload_too_large",
      "unsupported_media_type",
      "quota_exceeded",
      "internal_error",
    ),
  },
});

export function registerUpdateWebhook(app: App): void {
  app.openapi(updateWebhookRoute, async (c) => {
    const services = c.var.services;
    const input = c.req.valid("json");
    const url =
      input.url === undefined ? undefined : await vetSubscriptionUrl(services, c.var.auth, input.url);
    const row = await updateSubscription(
      services.db,
      c.var.auth,
      c.req.valid("param").id,
      { url, events: input.events, description: input.description, enabled: input.enabled },
      services.clock.now(),
    );
    if (!row) throw new ApiError("not_found", "No webhook subscription with this id.");
    return c.json(toSubscription(row, services.clock.now()), 200);
  });
}
