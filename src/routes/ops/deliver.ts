import { createRoute } from "@hono/zod-openapi";
import { deliverOrder } from "../../domain/orders/lifecycle/operations.ts";
import { DeliverSchema, OrderLifecycleSchema } from "../../domain/orders/lifecycle/schemas.ts";
import { authenticate } from "../../http/auth.ts";
import type { App } from "../../http/context.ts";
import { errorResponses } from "../../http/problem.ts";
import { IdempotencyKeyHeader } from "../orders/create.ts";
import { OrderIdParam } from "../orders/get.ts";
import { opsErrorCodes } from "./errors.ts";
import { runLifecycle } from "./run-lifecycle.ts";

export const deliverRoute = createRoute({
  method: "post",
  path: "/v1/orders/{id}/deliver",
  tags: ["Dispatch"],
  operationId: "deliverOrder",
  summary: "Confirm delivery",
  description:
    "CELLVI's dispatch side (scope `ops`). DRIVER_ASSIGNED or NEARBY -> DELIVERED, with the proof of delivery (who received it, when, and a photo or signature URL). DELIVERED is final. Emits `DELIVERED` with `proof`. `delivered_at` defaults to now and may not be in the future.",
  security: [{ ApiKey: [] }],
  middleware: [authenticate("ops")] as const,
  request: {
    params: OrderIdParam,
    headers: IdempotencyKeyHeader,
    body: {
      required: true,
      content: {
        "application/json": {
          schema: DeliverSchema,
          example: {
            received_by: "Valentina Gómez",
            delivered_at: "2026-11-27T15:12:40Z",
            proof_url: "https://files.cellvi.com/pod/9f2c1a.jpg",
          },
        },
      },
    },
  },
  responses: {
    200: {
      description: "Delivered; `events` holds the DELIVERED event",
      content: { "application/json": { schema: OrderLifecycleSchema } },
    },
    ...errorResponses(...opsErrorCodes),
  },
});

export function registerDeliver(app: App): void {
  app.openapi(deliverRoute, async (c) => {
    const id = c.req.valid("param").id;
    const input = c.req.valid("json");
    const { body, replayed } = await runLifecycle(
      c,
      {
        path: `/v1/orders/${id}/deliver`,
        body: input,
        idempotencyKey: c.req.valid("header")["idempotency-key"],
        actorPrefix: "ops",
      },
      (tx, ctx) => deliverOrder(tx, c.var.auth, id, input, ctx),
    );
    if (replayed) c.header("idempotent-replayed", "true");
    return c.json(body, 200);
  });
}
