import { createRoute, z } from "@hono/zod-openapi";
import {
  chunked,
  count,
  createChunk,
  emptyCounters,
  type ImportItem,
} from "../../domain/connectors/imports.ts";
import type { MapOutcome } from "../../domain/connectors/mapping.ts";
import { CreateOrderSchema } from "../../domain/orders/schemas.ts";
import { authenticate } from "../../http/auth.ts";
import type { App } from "../../http/context.ts";
import { readJsonBody } from "../../http/json-body.ts";
import { ApiError, errorResponses, fieldErrors } from "../../http/problem.ts";
import { ItemResultSchema, publicResult } from "./imports-shared.ts";

export const maxBatchOrders = 1000;

/** The envelope is checked first; each order is then validated on its own, so one bad order spoils nothing else. */
const BatchEnvelope = z.strictObject({ orders: z.array(z.unknown()).min(1).max(maxBatchOrders) });

export const BatchResultSchema = z
  .object({
    object: z.literal("batch"),
    total: z.number().int(),
    created: z.number().int(),
    duplicate: z.number().int(),
    invalid: z.number().int(),
    results: z.array(ItemResultSchema),
  })
  .openapi("BatchResult");

export const createOrdersBatchRoute = createRoute({
  method: "post",
  path: "/v1/orders/batch",
  tags: ["Orders"],
  operationId: "createOrdersBatch",
  summary: "Create up to 1,000 orders",
  description:
    'For ERPs (SAP, Oracle, Dynamics...) sending many orders at once: `{"orders": [...]}` with 1 to 1,000 orders in the shape of `POST /v1/orders/create`. Each is validated and created on its own, and the response has one result per order, in order: `created` (with its id and tracking), `duplicate` (its `external_id` exists: `order_id` is that order) or `invalid` (with `errors`, paths like `/orders/3/recipient/phone`). Idempotent by `external_id`: re-sending a batch after a timeout creates only what is missing. Each created order emits `ORDER_CREATED`.',
  security: [{ ApiKey: [] }],
  middleware: [authenticate("orders:write")] as const,
  request: {
    body: {
      required: true,
      description: "`orders`: 1 to 1,000 objects in the CreateOrderRequest shape.",
      content: {
        "application/json": {
          schema: {
            type: "object",
            required: ["orders"],
            properties: {
              orders: {
                type: "array",
                minItems: 1,
                maxItems: maxBatchOrders,
                items: { $ref: "#/components/schemas/CreateOrderRequest" },
              },
            },
          },
          example: {
            orders: [
              {
                external_id: "SO-10045",
                recipient: { name: "Valentina Gómez", phone: "+573001234567" },
                destination: { address_line1: "Carrera 7 # 71-21", city: "Bogotá", country: "CO" },
                packages: [{ weight_kg: 1.2 }],
              },
            ],
          },
        },
      },
    },
  },
  responses: {
    200: {
      description: "One result per order",
      content: { "application/json": { schema: BatchResultSchema } },
    },
    ...errorResponses(
      "invalid_json",
      "validation_failed",
      "unauthorized",
      "forbidden",
      "payload_too_large",
      "unsupported_media_type",
      "quota_exceeded",
      "internal_error",
    ),
  },
});

function validateItem(item: unknown, index: number): MapOutcome {
  const parsed = CreateOrderSchema.safeParse(item);
  if (parsed.success) return { kind: "order", input: parsed.data, reference: parsed.data.external_id };
  const reference =
    item && typeof item === "object" && typeof (item as { external_id?: unknown }).external_id === "string"
      ? (item as { external_id: string }).external_id
      : undefined;
  return {
    kind: "invalid",
    reference,
    errors: fieldErrors(parsed.error.issues).map((error) => ({
      ...error,
      path: `/orders/${index}${error.path === "/" ? "" : error.path}`,
    })),
  };
}

export function registerCreateOrdersBatch(app: App): void {
  app.openapi(createOrdersBatchRoute, async (c) => {
    const services = c.var.services;
    const scope = { tenantId: c.var.auth.tenantId, mode: c.var.auth.mode };
    const body = await readJsonBody(c);
    const envelope = BatchEnvelope.safeParse(body);
    if (!envelope.success) {
      const errors = fieldErrors(envelope.error.issues);
      throw new ApiError("validation_failed", `Send {"orders": [...]} with 1 to ${maxBatchOrders} orders.`, {
        errors,
      });
    }
    const items: ImportItem[] = envelope.data.orders.map((item, index) => ({
      location: { index },
      outcome: validateItem(item, index),
    }));
    const counters = emptyCounters();
    const results = [];
    for await (const chunk of chunked(items, 100)) {
      const chunkResults = await createChunk(services.db, scope, chunk, "api:batch");
      count(counters, chunkResults);
      for (const result of chunkResults) results.push(publicResult(services.config.publicBaseUrl, result));
    }
    return c.json(
      {
        object: "batch" as const,
        total: counters.rows_processed,
        created: counters.created,
        duplicate: counters.duplicate,
        invalid: counters.invalid,
        results,
      },
      200,
    );
  });
}
