import { createRoute } from "@hono/zod-openapi";
import { dynamicsSalesOrders, mapDynamicsSalesOrder } from "../../domain/connectors/dynamics.ts";
import { authenticate } from "../../http/auth.ts";
import type { App } from "../../http/context.ts";
import { unparsableJsonError } from "../../http/json-body.ts";
import { ApiError, errorResponses } from "../../http/problem.ts";
import { ImportQuery, ImportWithResultsSchema, importDefaults, importDocument } from "./imports-shared.ts";

export const maxDynamicsOrders = 1000;

export const importDynamicsRoute = createRoute({
  method: "post",
  path: "/v1/imports/dynamics",
  tags: ["Orders"],
  operationId: "importOrdersDynamics",
  summary: "Import Dynamics 365 Business Central sales orders",
  description:
    'A Business Central API v2.0 `salesOrder` read with `?$expand=salesOrderLines`, or the OData collection `{"value": [...]}` of up to 1,000 of them, exactly as Business Central returns it. external_id is the order `number`; `externalDocumentNumber` goes to metadata. Ship-to from the flat `shipTo*` fields; each `Item` line is one package weighing `netWeight` × `quantity` (kg). One result per sales order, with error paths like `/value/2/salesOrderLines/0/netWeight`.',
  security: [{ ApiKey: [] }],
  middleware: [authenticate("orders:write")] as const,
  request: {
    query: ImportQuery,
    body: {
      required: true,
      content: {
        "application/json": {
          schema: { type: "object", description: 'A salesOrder, or {"value": [salesOrder, ...]}' },
          example: { number: "S-ORD101045", shipToName: "Ferretería El Tornillo", salesOrderLines: [] },
        },
      },
    },
  },
  responses: {
    200: {
      description: "One result per sales order",
      content: { "application/json": { schema: ImportWithResultsSchema } },
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

export function registerImportDynamics(app: App): void {
  app.openapi(importDynamicsRoute, async (c) => {
    const services = c.var.services;
    const scope = { tenantId: c.var.auth.tenantId, mode: c.var.auth.mode };
    const defaults = importDefaults(c.req.valid("query"));
    const text = await c.req.text();
    let payload: unknown;
    try {
      payload = JSON.parse(text);
    } catch {
      throw unparsableJsonError(text);
    }
    const orders = dynamicsSalesOrders(payload);
    if (!orders || orders.length === 0 || orders.length > maxDynamicsOrders) {
      throw new ApiError(
        "validation_failed",
        `Send one salesOrder object, or {"value": [...]} with 1 to ${maxDynamicsOrders}.`,
        {
          errors: [{ path: "/", message: orders ? `${orders.length} sales orders` : "not a JSON object" }],
        },
      );
    }
    const items = orders.map(({ order, base }, index) => ({
      location: { index },
      outcome: mapDynamicsSalesOrder(order, base, { defaults }),
    }));
    return c.json(await importDocument(services, scope, "dynamics", items, Buffer.byteLength(text)), 200);
  });
}
