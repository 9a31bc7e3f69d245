import { createRoute } from "@hono/zod-openapi";
import { reportException } from "../../domain/orders/lifecycle/operations.ts";
import { ExceptionSchema, OrderLifecycleSchema } from "../../domain/orders/lifecycle/schemas.ts";
import { authenticate } from "../../http/auth.ts";
import type { App } from "../../http/context.ts";
import { errorResponses } from "../../http/problem.ts";
import { IdempotencyKeyHeader } from "../orders/create.ts";
import { OrderIdParam } from "../orders/get.ts";
import { opsErrorCodes } from "./errors.ts";
import { runLifecycle } from "./run-lifecycle.ts";

export const exceptionRoute = createRoute({
  method: "post",
  path: "/v1/orders/{id}/exception",
  tags: ["Dispatch"],
  operationId: "reportException",
  summary: "Report a delivery exception",
  description:
    "CELLVI's dispatch side (scope `ops`). CREATED, DRIVER_ASSIGNED or NEARBY -> EXCEPTION with a documented `code` and a message for the merchant. From EXCEPTION the order can be reassigned (a new attempt) or closed. `close: true` closes it for good (returned to sender, cancelled): the status stays EXCEPTION, `closed` becomes true and nothing can change it any more; it also closes an order already in EXCEPTION. Emits `EXCEPTION` with `exception` {code, message} and `closed`.",
  security: [{ ApiKey: [] }],
  middleware: [authenticate("ops")] as const,
  request: {
    params: OrderIdParam,
    headers: IdempotencyKeyHeader,
    body: {
      required: true,
      content: {
        "application/json": {
          schema: ExceptionSchema,
          example: { code: "RECIPIENT_ABSENT", message: "Nadie atendió en portería" },
        },
      },
    },
  },
  responses: {
    200: {
      description: "The exception is recorded; `events` holds the EXCEPTION event",
      content: { "application/json": { schema: OrderLifecycleSchema } },
    },
    ...errorResponses(...opsErrorCodes),
  },
});

export function registerException(app: App): void {
  app.openapi(exceptionRoute, async (c) => {
    const id = c.req.valid("param").id;
    const input = c.req.valid("json");
    const { body, replayed } = await runLifecycle(
      c,
      {
        path: `/v1/orders/${id}/exception`,
        body: input,
        idempotencyKey: c.req.valid("header")["idempotency-key"],
        actorPrefix: "ops",
      },
      (tx, ctx) => reportException(tx, c.var.auth, id, input, ctx),
    );
    if (replayed) c.header("idempotent-replayed", "true");
    return c.json(body, 200);
  });
}
