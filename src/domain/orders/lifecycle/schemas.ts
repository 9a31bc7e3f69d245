import { z } from "@hono/zod-openapi";
import { orderStatuses } from "../schemas.ts";
import { nearbyReasons } from "./nearby.ts";
import { eventTypes, exceptionCodes, lifecycleStates } from "./transitions.ts";

/**
 * Request and response schemas of the lifecycle operations (ops API and sandbox). Strict objects, like the order
 * input: a misspelt field fails loudly instead of being dropped.
 */

/** An ISO 8601 timestamp with a zone (`Z` or an offset): a device's local time without one is ambiguous. */
const timestamp = z.iso.datetime({ offset: true, message: "must be an ISO 8601 date-time with a time zone" });

export const DriverSchema = z
  .strictObject({
    id: z.string().trim().min(1).max(100).openapi({ example: "drv_2041" }),
    name: z.string().trim().min(1).max(200).openapi({ example: "Carlos Restrepo" }),
    phone: z
      .string()
      .trim()
      .regex(/^\+?[0-9 ()-]{7,20}$/, "must be a phone number, preferably E.164 like +573001234567")
      .optional()
      .openapi({ example: "+573104567890" }),
    vehicle_plate: z
      .string()
      .trim()
      .min(1)
      .max(20)
      .regex(/^[A-Za-z0-9 -]+$/, "letters, digits, spaces and dashes only")
      .optional()
      .openapi({ example: "KLM-482" }),
  })
  .openapi("Driver");
export type Driver = z.infer<typeof DriverSchema>;

export const AssignDriverSchema = z.strictObject({ driver: DriverSchema }).openapi("AssignDriverRequest");
export type AssignDriverInput = z.infer<typeof AssignDriverSchema>;

export const maxPositionsPerRequest = 500;

export const PositionSchema = z
  .strictObject({
    latitude: z.number().min(-90).max(90).openapi({ example: 4.6489 }),
    longitude: z.number().min(-180).max(180).openapi({ example: -74.0617 }),
    recorded_at: timestamp.openapi({
      description: "When the device took the fix (not when it was uploaded).",
      example: "2026-11-28T15:04:05Z",
    }),
  })
  .openapi("Position");

export const PositionsSchema = z
  .strictObject({
    positions: z.array(PositionSchema).min(1).max(maxPositionsPerRequest),
  })
  .openapi("PositionsRequest");
export type PositionsInput = z.infer<typeof PositionsSchema>;

export const DeliverSchema = z
  .strictObject({
    received_by: z.string().trim().min(1).max(200).openapi({ example: "Valentina Gómez" }),
    delivered_at: timestamp.optional().openapi({
      description: "When the package was handed over; defaults to now. Not in the future.",
      example: "2026-11-28T15:12:40Z",
    }),
    proof_url: z
      .url({ protocol: /^https?$/, message: "must be an http(s) URL" })
      .max(2000)
      .optional()
      .openapi({ example: "https://files.cellvi.com/pod/9f2c1a.jpg" }),
  })
  .openapi("DeliverRequest");
export type DeliverInput = z.infer<typeof DeliverSchema>;

export const ExceptionSchema = z
  .strictObject({
    code: z.enum(exceptionCodes).openapi({
      description:
        "FAILED_ATTEMPT (generic failed attempt), ADDRESS_NOT_FOUND, RECIPIENT_ABSENT, DAMAGED, REFUSED (the recipient refused the package), OTHER.",
      example: "RECIPIENT_ABSENT",
    }),
    message: z.string().trim().min(1).max(500).openapi({ example: "Nadie atendió en portería" }),
    close: z.boolean().optional().openapi({
      description:
        "true closes the order for good (returned to sender, cancelled): it stays EXCEPTION and accepts no further change. Default false: the order can be reassigned for a new attempt.",
      example: false,
    }),
  })
  .openapi("ExceptionRequest");
export type ExceptionInput = z.infer<typeof ExceptionSchema>;

export const CancelSchema = z
  .strictObject({
    reason: z.string().trim().min(1).max(500).optional().openapi({
      description:
        'Why you cancel, for your own records: it becomes the exception\'s `message` (in the response and the EXCEPTION webhook). Never shown on the public tracking page. Default: "Cancelled by the shipper".',
      example: "El cliente anuló la compra en la tienda",
    }),
  })
  .openapi("CancelOrderRequest");
export type CancelInput = z.infer<typeof CancelSchema>;

const PositionViewSchema = z
  .object({
    latitude: z.number(),
    longitude: z.number(),
    recorded_at: z.string(),
    distance_m: z
      .number()
      .nullable()
      .openapi({ description: "Great-circle distance to the destination; null without its coordinates." }),
  })
  .openapi("LastPosition");

export const ProducedEventSchema = z
  .object({
    id: z.string().openapi({ example: "evt_4f9c2b0e8d7a4b1c9e3f5a6b7c8d9e0f" }),
    type: z.enum(eventTypes),
    occurred_at: z.string(),
  })
  .openapi("ProducedEvent");

/** The order as the dispatch side sees it after a lifecycle operation, with the events that operation produced. */
export const OrderLifecycleSchema = z
  .object({
    object: z.literal("order_lifecycle"),
    order_id: z.uuid(),
    mode: z.enum(["live", "test"]),
    external_id: z.string(),
    tracking_number: z.string(),
    status: z.enum(orderStatuses),
    closed: z.boolean().openapi({ description: "true for an EXCEPTION that was closed for good." }),
    attempt: z
      .number()
      .int()
      .openapi({ description: "Delivery attempts started (0 before the first driver)." }),
    driver: DriverSchema.nullable(),
    exception: z.object({ code: z.string(), message: z.string() }).nullable(),
    proof: z
      .object({
        received_by: z.string().nullable(),
        delivered_at: z.string(),
        proof_url: z.string().nullable(),
      })
      .nullable(),
    last_position: PositionViewSchema.nullable(),
    estimated_delivery_at: z.string().nullable(),
    allowed_transitions: z.array(z.enum(lifecycleStates)).openapi({
      description: "Where the order may go next (CLOSED = EXCEPTION closed for good).",
      example: ["NEARBY", "DELIVERED", "EXCEPTION", "CLOSED"],
    }),
    events: z
      .array(ProducedEventSchema)
      .openapi({ description: "The events this request produced, in order." }),
  })
  .openapi("OrderLifecycle");
export type OrderLifecycle = z.infer<typeof OrderLifecycleSchema>;

export const PositionsResultSchema = OrderLifecycleSchema.extend({
  positions: z.object({
    received: z.number().int(),
    considered: z.number().int().openapi({ description: "Newer than the last position received." }),
    ignored_stale: z.number().int().openapi({ description: "Not newer than the last position received." }),
  }),
  nearby: z.object({
    fired: z.boolean(),
    reason: z.enum(nearbyReasons),
    radius_m: z.number(),
    distance_m: z.number().nullable(),
  }),
}).openapi("PositionsResult");
export type PositionsResult = z.infer<typeof PositionsResultSchema>;
