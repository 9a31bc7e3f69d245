import { createRoute, z } from "@hono/zod-openapi";
import { OrderSchema, orderStatuses } from "../../domain/orders/schemas.ts";
import { decodeCursor, encodeCursor, listOrders, toOrder } from "../../domain/orders/store.ts";
import { authenticate } from "../../http/auth.ts";
import type { App } from "../../http/context.ts";
import { ApiError, errorResponses } from "../../http/problem.ts";

const ListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20).openapi({ example: 20 }),
  cursor: z.string().max(200).optional().openapi({ description: "`next_cursor` of the previous page." }),
  status: z.enum(orderStatuses).optional(),
  external_id: z.string().max(100).optional(),
});

export const OrderListSchema = z
  .object({
    object: z.literal("list"),
    data: z.array(OrderSchema),
    has_more: z.boolean(),
    next_cursor: z.string().nullable(),
  })
  .openapi("OrderList");

export const listOrdersRoute = createRoute({
  method: "get",
  path: "/v1/orders",
  tags: ["Orders"],
  operationId: "listOrders",
  summary: "List orders",
  description:
    "Your orders, newest first, with cursor pagination: pass `next_cursor` as `cursor` until `has_more` is false. Filter by `status` or `external_id`.",
  security: [{ ApiKey: [] }],
  middleware: [authenticate("orders:read")] as const,
  request: { query: ListQuery },
  responses: {
    200: { description: "A page of orders", content: { "application/json": { schema: OrderListSchema } } },
    ...errorResponses("validation_failed", "unauthorized", "forbidden", "quota_exceeded", "internal_error"),
  },
});

export function registerListOrders(app: App): void {
  app.openapi(listOrdersRoute, async (c) => {
    const { db, config } = c.var.services;
    const query = c.req.valid("query");
    let cursor: number | undefined;
    if (query.cursor !== undefined) {
      const decoded = decodeCursor(query.cursor);
      if (decoded === null) {
        throw new ApiError("validation_failed", "The cursor is not one this API returned.", {
          errors: [{ path: "/cursor", message: "invalid cursor" }],
        });
      }
      cursor = decoded;
    }
    const page = await listOrders(db, c.var.auth, {
      limit: query.limit,
      cursor,
      status: query.status,
      externalId: query.external_id,
    });
    return c.json(
      {
        object: "list" as const,
        data: page.rows.map((row) => toOrder(row, config.publicBaseUrl)),
        has_more: page.nextCursor !== null,
        next_cursor: page.nextCursor === null ? null : encodeCursor(page.nextCursor),
      },
      200,
    );
  });
}
