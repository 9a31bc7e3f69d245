import { z } from "@hono/zod-openapi";
import { exceptionCodeDescription } from "./lifecycle/transitions.ts";

/**
 * The order input, validated at the edge. These schemas are the single source of truth: the server validates with
 * them and the OpenAPI document is generated from them. Unknown fields are rejected (strict objects), so a typo in
 * an integration fails loudly instead of being silently dropped.
 */
const countryCode = z
  .string()
  .regex(/^[A-Z]{2}$/, "must be an ISO 3166-1 alpha-2 country code in capitals, e.g. CO")
  .openapi({ example: "CO" });

export const AddressSchema = z
  .strictObject({
    address_line1: z.string().trim().min(1).max(200).openapi({ example: "Carrera 7 # 71-21" }),
    address_line2: z.string().trim().max(200).optional().openapi({ example: "Torre B, oficina 902" }),
    city: z.string().trim().min(1).max(100).openapi({ example: "Bogotá" }),
    region: z.string().trim().max(100).optional().openapi({ example: "Cundinamarca" }),
    postal_code: z.string().trim().max(20).optional().openapi({ example: "110231" }),
    country: countryCode,
    latitude: z.number().min(-90).max(90).optional().openapi({ example: 4.6561 }),
    longitude: z.number().min(-180).max(180).optional().openapi({ example: -74.0552 }),
  })
  .refine((a) => (a.latitude === undefined) === (a.longitude === undefined), {
    message: "latitude and longitude go together: give both or neither",
    path: ["latitude"],
  })
  .openapi("Address");

export const RecipientSchema = z
  .strictObject({
    name: z.string().trim().min(1).max(200).openapi({ example: "Valentina Gómez" }),
    phone: z
      .string()
      .trim()
      .regex(/^\+?[0-9 ()-]{7,20}$/, "must be a phone number, preferably E.164 like +573001234567")
      .openapi({ example: "+573001234567" }),
    email: z.email().max(254).optional().openapi({ example: "valentina@example.com" }),
  })
  .openapi("Recipient");

export const PackageSchema = z
  .strictObject({
    weight_kg: z.number().positive().max(1000).openapi({ example: 1.2 }),
    length_cm: z.number().positive().max(500).optional().openapi({ example: 30 }),
    width_cm: z.number().positive().max(500).optional().openapi({ example: 20 }),
    height_cm: z.number().positive().max(500).optional().openapi({ example: 10 }),
    description: z.string().trim().max(500).optional().openapi({ example: "Zapatos deportivos" }),
    declared_value: z.number().nonnegative().max(1e10).optional().openapi({ example: 250000 }),
  })
  .openapi("Package");

export const serviceLevels = ["standard", "express", "same_day", "next_day", "scheduled"] as const;

export const CreateOrderSchema = z
  .strictObject({
    external_id: z.string().trim().min(1).max(100).openapi({
      description: "Your reference (ERP or shop order number). Unique per tenant.",
      example: "SO-10045",
    }),
    recipient: RecipientSchema,
    destination: AddressSchema,
    origin: AddressSchema.optional(),
    packages: z.array(PackageSchema).min(1).max(50),
    cod_amount: z
      .number()
      .nonnegative()
      .max(1e12)
      .optional()
      .openapi({ description: "Cash to collect on delivery, in `currency`.", example: 185000 }),
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/, "must be an ISO 4217 currency code in capitals, e.g. COP")
      .optional()
      .openapi({ example: "COP" }),
    service_level: z.enum(serviceLevels).optional().openapi({ example: "standard" }),
    notes: z.string().max(1000).optional().openapi({ example: "Dejar en portería" }),
    metadata: z
      .record(z.string().max(40), z.string().max(500))
      .refine((m) => Object.keys(m).length <= 20, "at most 20 metadata keys")
      .optional()
      .openapi({ example: { channel: "shopify" } }),
  })
  .refine((o) => o.cod_amount === undefined || o.currency !== undefined, {
    message: "currency is required when cod_amount is set",
    path: ["currency"],
  })
  .openapi("CreateOrderRequest");

export type CreateOrderInput = z.infer<typeof CreateOrderSchema>;
export type Address = z.infer<typeof AddressSchema>;

export const orderStatuses = ["CREATED", "DRIVER_ASSIGNED", "NEARBY", "DELIVERED", "EXCEPTION"] as const;
export type OrderStatus = (typeof orderStatuses)[number];

export const OrderSchema = z
  .object({
    id: z.uuid().openapi({ example: "0b6f5d1e-3c2a-4f7e-9a51-2d7c8e9f0a1b" }),
    object: z.literal("order"),
    mode: z.enum(["live", "test"]),
    external_id: z.string().openapi({ example: "SO-10045" }),
    tracking_number: z.string().openapi({ example: "CV7K3M9Q2XW4PD" }),
    tracking_token: z.string().openapi({ example: "trk_9fJ2kLmQ8xVbN3cR7tYwZ1aS" }),
    tracking_url: z.string().openapi({
      example: "https://api.cellvi.com/v1/tracking/CV7K3M9Q2XW4PD?token=trk_9fJ2kLmQ8xVbN3cR7tYwZ1aS",
    }),
    status: z.enum(orderStatuses),
    closed: z.boolean().openapi({
      description:
        "true once the order is closed for good: an EXCEPTION that CELLVI closed (returned to sender) or that you cancelled. Nothing changes it any more.",
      example: false,
    }),
    exception: z
      .object({
        code: z.string().openapi({ description: exceptionCodeDescription, example: "RECIPIENT_ABSENT" }),
        message: z.string().openapi({ example: "Nadie atendió en portería" }),
      })
      .nullable()
      .openapi({
        description:
          "The order's latest exception while its status is EXCEPTION (and after it was closed); null otherwise.",
      }),
    recipient: RecipientSchema,
    destination: AddressSchema,
    origin: AddressSchema.nullable(),
    packages: z.array(PackageSchema),
    cod_amount: z.number().nullable(),
    currency: z.string().nullable(),
    service_level: z.string().nullable(),
    notes: z.string().nullable(),
    metadata: z.record(z.string(), z.string()),
    created_at: z.string().openapi({ example: "2026-11-28T14:03:11.512Z" }),
    updated_at: z.string().openapi({ example: "2026-11-28T14:03:11.512Z" }),
  })
  .openapi("Order");

export type Order = z.infer<typeof OrderSchema>;
