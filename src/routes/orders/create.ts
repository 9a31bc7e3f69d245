import { createRoute, z } from "@hono/zod-openapi";
import { requestFingerprint } from "../../domain/idempotency/run.ts";
import { createOrderOnce } from "../../domain/orders/create-once.ts";
import { CreateOrderSchema, OrderSchema } from "../../domain/orders/schemas.ts";
import { insertOrder, toOrder } from "../../domain/orders/store.ts";
import { authenticate } from "../../http/auth.ts";
import type { App } from "../../http/context.ts";
import { ApiError, errorResponses } from "../../http/problem.ts";

export const IdempotencyKeyHeader = z.object({
  "idempotency-key": z
    .string()
    .min(1)
    .max(255)
    .regex(/^[\x21-\x7e]+$/, "must be printable ASCII without spaces")
    .optional()
    .openapi({
      description:
        "Makes the request safe to retry: the same key with the same body replays the first response for 24 h.",
      example: "5f1c1e9e-0c1b-4a8e-9d0e-7b2f1a9c3d44",
    }),
});

const exampleOrder = {
  external_id: "SO-10045",
  recipient: { name: "Valentina Gómez", phone: "+573001234567", email: "valentina@example.com" },
  destination: {
    address_line1: "Carrera 7 # 71-21",
    city: "Bogotá",
    region: "Cundinamarca",
    postal_code: "110231",
    country: "CO",
    latitude: 4.6561,
    longitude: -74.0552,
  },
  packages: [{ weight_kg: 1.2, description: "Zapatos deportivos" }],
  cod_amount: 185000,
  currency: "COP",
  service_level: "standard",
};

function defineCreateRoute(path: string, hidden: boolean) {
  return createRoute({
    method: "post",
    path,
    tags: ["Orders"],
    operationId: hidden ? "createOrderAlias" : "createOrder",
    hide: hidden,
    summary: "Create an order",
    description:
      "Creates a shipment. Send an `Idempotency-Key` to retry safely. An `external_id` you already used returns 409 with the existing order's id. Emits `ORDER_CREATED`.",
    security: [{ ApiKey: [] }],
    middleware: [authenticate("orders:write")] as const,
    request: {
      headers: IdempotencyKeyHeader,
      body: {
        required: true,
        content: { "application/json": { schema: CreateOrderSchema, example: exampleOrder } },
      },
    },
    responses: {
      201: { description: "The order was created", content: { "application/json": { schema: OrderSchema } } },
      ...errorResponses(
        "invalid_json",
        "validation_failed",
        "unauthorized",
        "forbidden",
        "duplicate_external_id",
        "idempotency_in_progress",
        "payload_too_large",
        "unsupported_media_type",
        "idempotency_key_reused",
        "quota_exceeded",
        "internal_error",
      ),
    },
  });
}

export const createOrderRoute = defineCreateRoute("/v1/orders/create", false);
/** `POST /v1/orders` is the same operation under its REST name. */
export const createOrderAliasRoute = defineCreateRoute("/v1/orders", true);

export function registerCreateOrder(app: App): void {
  for (const route of [createOrderRoute, createOrderAliasRoute]) {
    app.openapi(route, async (c) => {
      const { db, config } = c.var.services;
      const auth = c.var.auth;
      const scope = { tenantId: auth.tenantId, mode: auth.mode };
      const input = c.req.valid("json");
      const duplicate = (existingOrderId: string) =>
        new ApiError(
          "duplicate_external_id",
          `An order with external_id "${input.external_id}" already exists.`,
          {
            existing_order_id: existingOrderId,
          },
        );
      const key = c.req.valid("header")["idempotency-key"];
      if (!key) {
        // One statement, so its own transaction: the order, its history row and its event, or nothing.
        const result = await insertOrder(db, scope, input);
        if (result.kind === "duplicate") throw duplicate(result.existingOrderId);
        c.header("location", `/v1/orders/${result.order.id}`);
        return c.json(toOrder(result.order, config.publicBaseUrl), 201);
      }
      const outcome = await createOrderOnce(db, scope, input, {
        key,
        fingerprint: requestFingerprint("POST", "/v1/orders", input),
        baseUrl: config.publicBaseUrl,
      });
      if (outcome.kind === "duplicate") throw duplicate(outcome.existingOrderId);
      if (outcome.kind === "created") {
        c.header("location", `/v1/orders/${outcome.body.id}`);
        return c.json(outcome.body, 201);
      }
      const replayed = outcome.response.body as z.infer<typeof OrderSchema>;
      c.header("idempotent-replayed", "true");
      c.header("location", `/v1/orders/${replayed.id}`);
      return c.json(replayed, 201);
    });
  }
}
