/**
 * The event types a subscription can ask for: one per order state (see the lifecycle). `*` means all of them, now
 * and any added later.
 */
export const webhookEventTypes = [
  "ORDER_CREATED",
  "DRIVER_ASSIGNED",
  "NEARBY",
  "DELIVERED",
  "EXCEPTION",
] as const;
export type WebhookEventType = (typeof webhookEventTypes)[number];

/** The type of the event `POST /v1/webhooks/{id}/test` sends. Never fanned out to other subscriptions. */
export const testEventType = "WEBHOOK_TEST";

export function isWebhookEventType(value: string): value is WebhookEventType {
  return (webhookEventTypes as readonly string[]).includes(value);
}
