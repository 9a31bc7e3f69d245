import { z } from "@hono/zod-openapi";
import { wasSent } from "../../domain/webhooks/attempt.ts";
import type { AttemptRow, DeliveryWithAttempts } from "../../domain/webhooks/deliveries.ts";
import { webhookEventTypes } from "../../domain/webhooks/event-types.ts";
import type { SubscriptionRow } from "../../domain/webhooks/subscriptions.ts";

/** The request and response shapes of the webhook routes, and the mappers from rows to them. */

export const EventFilterSchema = z
  .array(z.enum([...webhookEventTypes, "*"]))
  .min(1)
  .max(10)
  .refine((events) => !events.includes("*") || events.length === 1, {
    message: 'use either ["*"] (every event type) or a list of event types, not both',
  })
  .openapi({
    description: `The event types to receive: any of ${webhookEventTypes.join(", ")}, or \`["*"]\` for all.`,
    example: ["DRIVER_ASSIGNED", "DELIVERED", "EXCEPTION"],
  });

const UrlSchema = z.string().trim().min(1).max(2048).openapi({
  description:
    "Where to POST events: https (http only for test-mode subscriptions). Must resolve to a public address.",
  example: "https://erp.example.com/webhooks/cellvi",
});

const DescriptionSchema = z
  .string()
  .trim()
  .max(500)
  .openapi({ description: "A note for your team.", example: "ERP order status sync" });

export const SubscribeBodySchema = z
  .strictObject({ url: UrlSchema, events: EventFilterSchema, description: DescriptionSchema.optional() })
  .openapi("WebhookSubscribeRequest");

export const UpdateBodySchema = z
  .strictObject({
    url: UrlSchema.optional(),
    events: EventFilterSchema.optional(),
    description: DescriptionSchema.nullable().optional(),
    enabled: z.boolean().optional().openapi({
      description: "false pauses deliveries (queued ones fail and can be retried by hand); true re-enables.",
    }),
  })
  .refine((body) => Object.keys(body).length > 0, { message: "send at least one field to change" })
  .openapi("WebhookUpdateRequest");

export const SubscriptionIdParam = z.object({
  id: z
    .string()
    .min(1)
    .max(100)
    .openapi({ param: { name: "id", in: "path" }, example: "wh_4f9d2c1b7a8e4e0f9c3b2a1d0e9f8a7b" }),
});

export const DeliveryIdParam = z.object({
  delivery_id: z
    .string()
    .min(1)
    .max(100)
    .openapi({ param: { name: "delivery_id", in: "path" }, example: "dlv_8c1f0e2d3b4a49568798a0b1c2d3e4f5" }),
});

const iso = z.string().openapi({ format: "date-time", example: "2026-11-28T14:03:07.512Z" });

export const SubscriptionSchema = z
  .object({
    id: z.string().openapi({ example: "wh_4f9d2c1b7a8e4e0f9c3b2a1d0e9f8a7b" }),
    object: z.literal("webhook_subscription"),
    mode: z.enum(["live", "test"]).openapi({ description: "The mode of the key that created it." }),
    url: z.string().openapi({ example: "https://erp.example.com/webhooks/cellvi" }),
    events: z.array(z.string()).openapi({ example: ["DRIVER_ASSIGNED", "DELIVERED", "EXCEPTION"] }),
    description: z.string().nullable(),
    enabled: z.boolean(),
    disabled_reason: z.enum(["manual", "endpoint_gone", "failing"]).nullable().openapi({
      description:
        "`manual`: disabled with PATCH. `endpoint_gone`: the endpoint answered 410. `failing`: every attempt failed for 5 days.",
    }),
    disabled_at: iso.nullable(),
    failing_since: iso.nullable().openapi({
      description: "The first failed attempt since the last success; null while healthy.",
    }),
    previous_secret_expires_at: iso.nullable().openapi({
      description: "After a rotation, until when the previous secret also signs.",
    }),
    created_at: iso,
    updated_at: iso,
  })
  .openapi("WebhookSubscription");

export const SubscriptionWithSecretSchema = SubscriptionSchema.extend({
  secret: z.string().openapi({
    description: "The signing secret. Shown only here: store it now.",
    example: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  }),
}).openapi("WebhookSubscriptionWithSecret");

export const SubscriptionListSchema = z
  .object({
    object: z.literal("list"),
    data: z.array(SubscriptionSchema),
    has_more: z.boolean(),
    next_cursor: z.string().nullable(),
  })
  .openapi("WebhookSubscriptionList");

const AttemptSchema = z
  .object({
    attempt: z.number().int().openapi({ example: 1 }),
    attempted_at: iso,
    outcome: z.enum(["succeeded", "failed"]),
    status_code: z.number().int().nullable().openapi({ example: 503 }),
    duration_ms: z.number().int().openapi({ example: 182 }),
    error: z.string().nullable().openapi({ example: "The endpoint answered HTTP 503, not a 2xx." }),
    response_body: z.string().nullable().openapi({ description: "The first KiB of your endpoint's answer." }),
    next_attempt_at: iso
      .nullable()
      .openapi({ description: "When the retry after this attempt was scheduled." }),
    sent: z.boolean().openapi({
      description:
        "false when nothing was sent: the subscription's signing secret could not be opened on CELLVI's side (a key missing from the service's configuration). Such a try never reached your endpoint and, while the delivery waits for its secret, does not count in `attempt_count`.",
      example: true,
    }),
  })
  .openapi("WebhookAttempt");

export const DeliverySchema = z
  .object({
    id: z.string().openapi({ example: "dlv_8c1f0e2d3b4a49568798a0b1c2d3e4f5" }),
    object: z.literal("webhook_delivery"),
    subscription_id: z.string(),
    event_id: z
      .string()
      .openapi({ description: "Sent as `webhook-id`.", example: "evt_0c2b9a8f7e6d4c3b2a1f0e9d8c7b6a59" }),
    event_type: z.string().openapi({ example: "DELIVERED" }),
    status: z.enum(["pending", "sending", "succeeded", "failed"]).openapi({
      description:
        "`pending`: waiting for its next attempt; `sending`: an attempt is in progress; `succeeded`; `failed`: no more automatic attempts (retry it by hand).",
    }),
    attempt_count: z.number().int().openapi({
      description:
        "Attempts counted toward the retry schedule. Tries not sent while the delivery waits for its signing secret (`waiting_for_secret`) are listed in `attempts` with `sent: false` but not counted.",
    }),
    next_attempt_at: iso.nullable(),
    last_attempt_at: iso.nullable(),
    last_status_code: z.number().int().nullable(),
    last_error: z.string().nullable(),
    created_at: iso,
    completed_at: iso.nullable(),
    attempts: z.array(AttemptSchema),
    waiting_for_secret: z.boolean().openapi({
      description:
        "true while the delivery is `pending` because its subscription's signing secret cannot be opened on CELLVI's side (a key missing from the service's configuration: nothing to change on your endpoint). It waits without using up its attempts, is tried again at `next_attempt_at`, and goes out once the key is back.",
      example: false,
    }),
  })
  .openapi("WebhookDelivery");

export const DeliveryListSchema = z
  .object({
    object: z.literal("list"),
    data: z.array(DeliverySchema),
    has_more: z.boolean(),
    next_cursor: z.string().nullable(),
  })
  .openapi("WebhookDeliveryList");

export function toSubscription(row: SubscriptionRow, now: Date): z.infer<typeof SubscriptionSchema> {
  const overlap =
    row.previous_secret_expires_at && row.previous_secret_expires_at.getTime() > now.getTime()
      ? row.previous_secret_expires_at.toISOString()
      : null;
  return {
    id: row.id,
    object: "webhook_subscription",
    mode: row.mode,
    url: row.url,
    events: row.events,
    description: row.description,
    enabled: row.enabled,
    disabled_reason: row.disabled_reason,
    disabled_at: row.disabled_at?.toISOString() ?? null,
    failing_since: row.failing_since?.toISOString() ?? null,
    previous_secret_expires_at: overlap,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

function toAttempt(row: AttemptRow): z.infer<typeof AttemptSchema> {
  return {
    attempt: row.attempt,
    attempted_at: row.attempted_at.toISOString(),
    outcome: row.outcome,
    status_code: row.status_code,
    duration_ms: row.duration_ms,
    error: row.error,
    response_body: row.response_body,
    next_attempt_at: row.next_attempt_at?.toISOString() ?? null,
    sent: wasSent(row),
  };
}

export function toDelivery(row: DeliveryWithAttempts, now: Date): z.infer<typeof DeliverySchema> {
  // A claimed row's next_attempt_at is its lease: while it lasts an attempt is in progress.
  const sending =
    row.status === "pending" &&
    row.lease_token !== null &&
    (row.next_attempt_at?.getTime() ?? 0) > now.getTime();
  return {
    id: row.id,
    object: "webhook_delivery",
    subscription_id: row.subscription_id,
    event_id: row.event_id,
    event_type: row.event_type,
    status: sending ? "sending" : row.status,
    attempt_count: row.attempts,
    next_attempt_at: sending ? null : (row.next_attempt_at?.toISOString() ?? null),
    last_attempt_at: row.last_attempt_at?.toISOString() ?? null,
    last_status_code: row.last_status_code,
    last_error: row.last_error,
    created_at: row.created_at.toISOString(),
    completed_at: row.completed_at?.toISOString() ?? null,
    attempts: row.attempt_log.map(toAttempt),
    waiting_for_secret: !sending && row.status === "pending" && row.secret_unopened_since !== null,
  };
}
