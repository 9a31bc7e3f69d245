import { createRoute } from "@hono/zod-openapi";
import { assignDriver } from "../../domain/orders/lifecycle/operations.ts";
import { AssignDriverSchema, OrderLifecycleSchema } from "../../domain/orders/lifecycle/schemas.ts";
import { authenticate } from "../../http/auth.ts";
import type { App } from "../../http/context.ts";
import { errorResponses } from "../../http/problem.ts";
import { IdempotencyKeyHeader } from "../orders/create.ts";
import { OrderIdParam } from "../orders/get.ts";
import { opsErrorCodes } from "./errors.ts";
import { runLifecycle } from "./run-lifecycle.ts";

export const assignDriverRoute = createRoute({
  method: "post",
  path: "/v1/orders/{id}/assign-driver",
  tags: ["Dispatch"],
  operationId: "assignDriver",
  summary: "Assign a driver",
  description:
    "CELLVI's dispatch side (scope `ops`). Starts a delivery attempt: CREATED -> DRIVER_ASSIGNED, or EXCEPTION -> DRIVER_ASSIGNED for a new attempt after a failed one. Emits `DRIVER_ASSIGNED` with the driver and the attempt number. Any other current state is a 409 `invalid_transition` naming it.",
  security: [{ ApiKey: [] }],
  middleware: [authenticate("ops")] as const,
  request: {
    params: OrderIdParam,
    headers: IdempotencyKeyHeader,
    body: {
      required: true,
      content: {
        "application/json": {
          schema: AssignDriverSchema,
          example: {
            driver: {
              id: "drv_2041",
              name: "Carlos Restrepo",
              phone: "+573104567890",
              vehicle_plate: "KLM-482",
            },
          },
        },
      },
    },
  },
  responses: {
    200: {
      description: "The driver is assigned; `events` holds the DRIVER_ASSIGNED event",
      content: { "application/json": { schema: OrderLifecycleSchema } },
    },
    ...errorResponses(...opsErrorCodes),
  },
});

export function registerAssignDriver(app: App): void {
  app.openapi(assignDriverRoute, async (c) => {
    const id = c.req.valid("param").id;
    const input = c.req.valid("json");
    const { body, replayed } = await runLifecycle(
      c,
      {
        path: `/v1/orders/${id}/assign-driver`,
        body: input,
        idempotencyKey: c.req.valid("header")["idempotency-key"],
        actorPrefix: "ops",
      },
      (tx, ctx) => assignDriver(tx, c.var.auth, id, input, ctx),
    );
    if (replayed) c.header("idempotent-replayed", "true");
    return c.json(body, 200);
  });
}
