import { z } from "@hono/zod-openapi";
import { exceptionCodeDescription } from "../../domain/orders/lifecycle/transitions.ts";

/**
 * The documented shape of every webhook event, one schema per type. The payload's `data` is written by the
 * database (0001's `order_status_history` trigger, completed by 0002's `cellvi_lifecycle_details`), not by
 * TypeScript, so these schemas are a contract: `test/docs/webhook-events.test.ts` drives real orders through the
 * lifecycle and validates every outbox payload against them. Change both together.
 */
const DriverSchema = z
  .object({
    id: z.string().openapi({ example: "drv_2041" }),
    name: z.string().openapi({ example: "Carlos Pérez" }),
    phone: z.string().nullish().openapi({ example: "+573105550199" }),
    vehicle_plate: z.string().nullish().openapi({ example: "KZT-482" }),
  })
  .passthrough()
  .openapi("WebhookDriver");

const PositionSchema = z
  .object({
    latitude: z.number().openapi({ example: 4.6549 }),
    longitude: z.number().openapi({ example: -74.0561 }),
    recorded_at: z.string().openapi({ example: "2026-11-28T15:41:07.000Z" }),
  })
  .openapi("WebhookPosition");

const ProofSchema = z
  .object({
    received_by: z.string().nullable().openapi({ example: "Valentina Gómez" }),
    delivered_at: z.string().openapi({ example: "2026-11-28T15:52:30.000Z" }),
    proof_url: z.string().nullable().openapi({ example: "https://cdn.cellvi.com/pod/8c1d.jpg" }),
  })
  .openapi("WebhookProof");

const ExceptionSchema = z
  .object({
    code: z.string().openapi({ description: exceptionCodeDescription, example: "RECIPIENT_ABSENT" }),
    message: z.string().openapi({ example: "Nadie atendió en la portería" }),
  })
  .openapi("WebhookException");

/** Fields every event's `data` carries, whatever its type. */
const baseData = {
  order_id: z.string().openapi({ example: "0b6f5d1e-3c2a-4f7e-9a51-2d7c8e9f0a1b" }),
  external_id: z.string().openapi({ description: "Your reference for the order.", example: "SO-10045" }),
  tracking_number: z.string().openapi({ example: "CV7K3M9Q2XW4PD" }),
  status: z.string().openapi({ description: "The order's status after the change.", example: "CREATED" }),
  occurred_at: z.string().openapi({ example: "2026-11-28T14:03:11.512Z" }),
  description: z.string().nullable().openapi({ example: "Orden creada" }),
  city: z.string().nullable().openapi({ example: "Bogotá" }),
};

/** The delivery attempt (1 for the first; an EXCEPTION followed by a new assignment starts the next). */
const attempt = z.number().int().min(1).openapi({ example: 1 });

interface EventDefinition {
  summary: string;
  description: string;
  status: string;
  data: z.ZodRawShape;
  example: Record<string, unknown>;
}

const baseExample = {
  order_id: "0b6f5d1e-3c2a-4f7e-9a51-2d7c8e9f0a1b",
  external_id: "SO-10045",
  tracking_number: "CV7K3M9Q2XW4PD",
};
const driverExample = {
  id: "drv_2041",
  name: "Carlos Pérez",
  phone: "+573105550199",
  vehicle_plate: "KZT-482",
};

/** One entry per event type, in lifecycle order. */
export const webhookEvents = {
  ORDER_CREATED: {
    summary: "An order was created",
    description:
      "Sent once per order, through the API, a connector or an import. The order's tracking number is ready to share.",
    status: "CREATED",
    data: {},
    example: {
      ...baseExample,
      status: "CREATED",
      occurred_at: "2026-11-28T14:03:11.512Z",
      description: "Orden creada",
      city: "Bogotá",
    },
  },
  DRIVER_ASSIGNED: {
    summary: "A driver was assigned",
    description: "A driver took the order: a new delivery attempt starts.",
    status: "DRIVER_ASSIGNED",
    data: { attempt, driver: DriverSchema },
    example: {
      ...baseExample,
      status: "DRIVER_ASSIGNED",
      occurred_at: "2026-11-28T15:10:02.000Z",
      description: "Conductor asignado",
      city: "Bogotá",
      attempt: 1,
      driver: driverExample,
    },
  },
  NEARBY: {
    summary: "The driver is near the destination",
    description:
      "The driver came within the tenant's radius of the destination (1,000 m unless configured). At most once per attempt; never for a destination without coordinates.",
    status: "NEARBY",
    data: {
      attempt,
      driver: DriverSchema.nullable(),
      position: PositionSchema.nullable(),
      distance_m: z.number().nullable().openapi({ description: "Metres to the destination.", example: 412 }),
    },
    example: {
      ...baseExample,
      status: "NEARBY",
      occurred_at: "2026-11-28T15:41:07.000Z",
      description: "El conductor está cerca",
      city: "Bogotá",
      attempt: 1,
      driver: driverExample,
      position: { latitude: 4.6549, longitude: -74.0561, recorded_at: "2026-11-28T15:41:07.000Z" },
      distance_m: 412,
    },
  },
  DELIVERED: {
    summary: "The order was delivered",
    description:
      "Final state. `proof` says who received it and links the proof of delivery when there is one.",
    status: "DELIVERED",
    data: { attempt, driver: DriverSchema.nullable(), proof: ProofSchema },
    example: {
      ...baseExample,
      status: "DELIVERED",
      occurred_at: "2026-11-28T15:52:30.000Z",
      description: "Entregado",
      city: "Bogotá",
      attempt: 1,
      driver: driverExample,
      proof: {
        received_by: "Valentina Gómez",
        delivered_at: "2026-11-28T15:52:30.000Z",
        proof_url: "https://cdn.cellvi.com/pod/8c1d.jpg",
      },
    },
  },
  EXCEPTION: {
    summary: "The delivery hit a problem",
    description:
      "The attempt failed or the order cannot be delivered. With `closed: false` CELLVI will try again (a new DRIVER_ASSIGNED follows); with `closed: true` the order is closed for good and no more events follow.",
    status: "EXCEPTION",
    data: {
      attempt,
      driver: DriverSchema.nullable(),
      exception: ExceptionSchema,
      closed: z.boolean().openapi({ example: false }),
    },
    example: {
      ...baseExample,
      status: "EXCEPTION",
      occurred_at: "2026-11-28T15:58:45.000Z",
      description: "Destinatario ausente",
      city: "Bogotá",
      attempt: 1,
      driver: driverExample,
      exception: { code: "RECIPIENT_ABSENT", message: "Nadie atendió en la portería" },
      closed: false,
    },
  },
} as const satisfies Record<string, EventDefinition>;

export type DocumentedEventType = keyof typeof webhookEvents;
/** The order events: what subscriptions choose from. */
export const documentedEventTypes = Object.keys(webhookEvents) as DocumentedEventType[];

/**
 * `POST /v1/webhooks/{id}/test` sends this one to a single subscription, on demand (src/domain/webhooks/
 * deliveries.ts builds it): not an order event, never fanned out, but a receiver gets it and should answer 2xx.
 */
export const testWebhookEvent = {
  summary: "A test event you asked for",
  description:
    "Sent only by `POST /v1/webhooks/{id}/test`, to that subscription, to check your endpoint and its signature verification. Answer with any 2xx; it carries no order.",
  example: {
    type: "WEBHOOK_TEST",
    timestamp: "2026-11-28T14:05:00.000Z",
    data: {
      subscription_id: "wh_4f9d2c1b7a8e4e0f9c3b2a1d0e9f8a7b",
      message:
        "A test event from CELLVI Connect. Answer with any 2xx status to confirm that your endpoint works.",
    },
  },
} as const;

/** Every type a webhook receiver can get: the order events, then the on-demand test event. */
export type DeliveredEventType = DocumentedEventType | "WEBHOOK_TEST";
export const deliveredEventTypes: DeliveredEventType[] = [...documentedEventTypes, "WEBHOOK_TEST"];

export function describeEvent(type: DeliveredEventType): { summary: string; description: string } {
  return type === "WEBHOOK_TEST" ? testWebhookEvent : webhookEvents[type];
}

/** The Zod schema of a whole delivery body (`{type, timestamp, data}`) of one event type. */
export function webhookEventSchema(type: DeliveredEventType) {
  if (type === "WEBHOOK_TEST") {
    return z
      .object({
        type: z.literal("WEBHOOK_TEST"),
        timestamp: z.string().openapi({ example: testWebhookEvent.example.timestamp }),
        data: z
          .object({
            subscription_id: z.string().openapi({ example: testWebhookEvent.example.data.subscription_id }),
            message: z.string().openapi({ example: testWebhookEvent.example.data.message }),
          })
          .passthrough(),
      })
      .openapi("WebhookEventWebhookTest");
  }
  const definition: EventDefinition = webhookEvents[type];
  return z
    .object({
      type: z.literal(type),
      timestamp: z.string().openapi({
        description: "When the event happened (ISO 8601), identical on every retry.",
        example: definition.example.occurred_at as string,
      }),
      data: z
        .object({ ...baseData, status: z.literal(definition.status), ...definition.data })
        // New fields may be added to `data` without a version change: receivers must ignore what they do not know.
        .passthrough(),
    })
    .openapi(`WebhookEvent${pascal(type)}`);
}

/** The full delivery body example of one event type. */
export function webhookEventExample(type: DeliveredEventType): Record<string, unknown> {
  if (type === "WEBHOOK_TEST") return testWebhookEvent.example;
  const definition: EventDefinition = webhookEvents[type];
  return { type, timestamp: definition.example.occurred_at, data: definition.example };
}

function pascal(type: string): string {
  return type
    .toLowerCase()
    .split("_")
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join("");
}
