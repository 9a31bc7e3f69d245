import { createRoute } from "@hono/zod-openapi";
import { cancelOrder } from "../../domain/orders/lifecycle/operations.ts";
import { CancelSchema, OrderLifecycleSchema } from "../../domain/orders/lifecycle/schemas.ts";
import { authenticate } from "../../http/auth.ts";
import type { App } from "../../http/context.ts";
import { errorResponses } from "../../http/problem.ts";
import { opsErrorCodes } from "../ops/errors.ts";
import { runLifecycle } from "../ops/run-lifecycle.ts";
import { IdempotencyKeyHeader } from "./create.ts";
import { OrderIdParam } from "./get.ts";

export const cancelOrderRoute = createRoute({
  method: "post",
  path: "/v1/orders/{id}/cancel",
  tags: ["Orders"],
  operationId: "cancelOrder",
  summary: "Cancel an order",
  description:
    "For the shipper (scope `orders:write`): when the sale is cancelled in your shop or ERP. Allowed while the order is CREATED, DRIVER_ASSIGNED or in an open EXCEPTION; once the driver is NEARBY, and after DELIVERED or a close, the answer is `409 conflict`. The order is closed for good: its status stays EXCEPTION with `closed: true` and the exception `{code: CANCELLED, message: your reason}`, and the `EXCEPTION` webhook (with `closed: true`) goes to your subscriptions. Cancelling an order already cancelled is not an error: the answer is 200 with the order as it is and no new event (`events` is empty). The body is optional.",
  security: [{ ApiKey: [] }],
  middleware: [authenticate("orders:write")] as const,
  request: {
    params: OrderIdParam,
    headers: IdempotencyKeyHeader,
    body: {
      required: false,
      content: {
        "application/json": {
          schema: CancelSchema,
          example: { reason: "El cliente anuló la compra en la tienda" },
        },
      },
    },
  },
  responses: {
    200: {
      description:
        "The order is cancelled; `events` holds the EXCEPTION event, or is empty when it was cancelled already",
      content: { "application/json": { schema: OrderLifecycleSchema } },
    },
    ...errorResponses(...opsErrorCodes.filter((code) => code !== "invalid_transition"), "conflict"),
  },
});

export function registerCancelOrder(app: App): void {
  app.openapi(cancelOrderRoute, async (c) => {
    const id = c.req.valid("param").id;
    // The body is optional: without a JSON content type the validator hands over {} (no reason).
    const input = c.req.valid("json");
    const { body, replayed } = await runLifecycle(
      c,
      {
        path: `/v1/orders/${id}/cancel`,
        body: input,
        idempotencyKey: c.req.valid("header")["idempotency-key"],
        actorPrefix: "api",
      },
      (tx, ctx) => cancelOrder(tx, c.var.auth, id, input, ctx),
    );
    if (replayed) c.header("idempotent-replayed", "true");
    return c.json(body, 200);
  });
}
