import { createRoute, z } from "@hono/zod-openapi";
import { getConnector, listDeliveries } from "../../domain/connectors/store.ts";
import { authenticate } from "../../http/auth.ts";
import type { App } from "../../http/context.ts";
import { ApiError, errorResponses } from "../../http/problem.ts";
import {
  ConnectorIdParam,
  DeliverySchema,
  decodeDeliveryCursor,
  deliveryStatuses,
  encodeDeliveryCursor,
  toDelivery,
} from "./schemas.ts";

const ListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20).openapi({ example: 20 }),
  cursor: z.string().max(200).optional().openapi({ description: "`next_cursor` of the previous page." }),
  status: z.enum(deliveryStatuses).optional(),
});

export const DeliveryListSchema = z
  .object({
    object: z.literal("list"),
    data: z.array(DeliverySchema),
    has_more: z.boolean(),
    next_cursor: z.string().nullable(),
  })
  .openapi("ConnectorDeliveryList");

export const listConnectorDeliveriesRoute = createRoute({
  method: "get",
  path: "/v1/connectors/{id}/deliveries",
  tags: ["Connectors"],
  operationId: "listConnectorDeliveries",
  summary: "List what a connector received",
  description:
    "Every delivery the platform sent (and every order the Magento poller read), newest first, with what became of it: `created`, `duplicate`, `skipped` (with the reason: nothing to ship, a status the connector does not ship), `rejected` (with the fields that could not be mapped), `pending` or `failed`. Filter by `status`. Nothing a platform sends is dropped without a row here. Requests with a wrong signature are not recorded: they may come from anyone.",
  security: [{ ApiKey: [] }],
  middleware: [authenticate("connectors:manage")] as const,
  request: { params: ConnectorIdParam, query: ListQuery },
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

export function registerListConnectorDeliveries(app: App): void {
  app.openapi(listConnectorDeliveriesRoute, async (c) => {
    const { db } = c.var.services;
    const connector = await getConnector(db, c.var.auth, c.req.valid("param").id);
    if (!connector) throw new ApiError("not_found", "No connector with this id.");
    const query = c.req.valid("query");
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
    const page = await listDeliveries(db, c.var.auth, connector.id, {
      limit: query.limit,
      cursor,
      status: query.status,
    });
    return c.json(
      {
        object: "list" as const,
        data: page.rows.map(toDelivery),
        has_more: page.nextCursor !== null,
        next_cursor: page.nextCursor === null ? null : encodeDeliveryCursor(page.nextCursor),
      },
      200,
    );
  });
}
