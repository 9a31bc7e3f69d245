import { createRoute, z } from "@hono/zod-openapi";
import { OrderSchema } from "../../domain/orders/schemas.ts";
import { getOrder, toOrder } from "../../domain/orders/store.ts";
import { authenticate } from "../../http/auth.ts";
import type { App } from "../../http/context.ts";
import { ApiError, errorResponses } from "../../http/problem.ts";

export const OrderIdParam = z.object({
  id: z
    .string()
    .openapi({ param: { name: "id", in: "path" }, example: "0b6f5d1e-3c2a-4f7e-9a51-2d7c8e9f0a1b" }),
});

export const getOrderRoute = createRoute({
  method: "get",
  path: "/v1/orders/{id}",
  tags: ["Orders"],
  operationId: "getOrder",
  summary: "Retrieve an order",
  description:
    "Returns one of your orders. Orders of other tenants, and of the other mode (test/live), are 404.",
  security: [{ ApiKey: [] }],
  middleware: [authenticate("orders:read")] as const,
  request: { params: OrderIdParam },
  responses: {
    200: { description: "The order", content: { "application/json": { schema: OrderSchema } } },
    ...errorResponses("unauthorized", "forbidden", "not_found", "quota_exceeded", "internal_error"),
  },
});

export function registerGetOrder(app: App): void {
  app.openapi(getOrderRoute, async (c) => {
    const { db, config } = c.get("services");
    const order = await getOrder(db, c.get("auth"), c.req.valid("param").id);
    if (!order) throw new ApiError("not_found", "No order with this id.");
    return c.json(toOrder(order, config.publicBaseUrl), 200);
  });
}
