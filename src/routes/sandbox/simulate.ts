import { createRoute, z } from "@hono/zod-openapi";
import {
  type SandboxEvent,
  simulateEvent,
  simulateHappyPath,
} from "../../domain/orders/lifecycle/operations.ts";
import {
  DeliverSchema,
  DriverSchema,
  ExceptionSchema,
  OrderLifecycleSchema,
} from "../../domain/orders/lifecycle/schemas.ts";
import { authenticate } from "../../http/auth.ts";
import type { App } from "../../http/context.ts";
import { ApiError, errorResponses } from "../../http/problem.ts";
import { opsErrorCodes } from "../ops/errors.ts";
import { runLifecycle } from "../ops/run-lifecycle.ts";
import { IdempotencyKeyHeader } from "../orders/create.ts";
import { OrderIdParam } from "../orders/get.ts";

const sandboxEvents = [
  "DRIVER_ASSIGNED",
  "NEARBY",
  "DELIVERED",
  "EXCEPTION",
] as const satisfies SandboxEvent[];

export const SimulateSchema = z
  .strictObject({
    event: z.enum(sandboxEvents).optional().openapi({ example: "DRIVER_ASSIGNED" }),
    scenario: z.enum(["happy_path"]).optional().openapi({
      description:
        "`happy_path`: the rest of a successful delivery (DRIVER_ASSIGNED, NEARBY, DELIVERED) at once.",
    }),
    driver: DriverSchema.optional().openapi({
      description: "For DRIVER_ASSIGNED and happy_path; default: a sandbox driver.",
    }),
    delivery: DeliverSchema.optional().openapi({
      description: "For DELIVERED and happy_path; default: received by the order's recipient, now.",
    }),
    exception: ExceptionSchema.optional().openapi({
      description: "For EXCEPTION; default: RECIPIENT_ABSENT, not closed.",
    }),
  })
  .superRefine((body, ctx) => {
    if ((body.event === undefined) === (body.scenario === undefined)) {
      ctx.addIssue({
        code: "custom",
        path: ["event"],
        message: 'give exactly one of `event` (one step) or `scenario` ("happy_path")',
      });
    }
    const uses = body.scenario === "happy_path" ? ["DRIVER_ASSIGNED", "DELIVERED"] : [body.event];
    const check = (field: "driver" | "delivery" | "exception", event: SandboxEvent) => {
      if (body[field] !== undefined && !uses.includes(event)) {
        ctx.addIssue({
          code: "custom",
          path: [field],
          message: `\`${field}\` applies only to ${event}${field === "exception" ? "" : " and happy_path"}`,
        });
      }
    };
    check("driver", "DRIVER_ASSIGNED");
    check("delivery", "DELIVERED");
    check("exception", "EXCEPTION");
  })
  .openapi("SimulateRequest");

export const simulateRoute = createRoute({
  method: "post",
  path: "/v1/sandbox/orders/{id}/simulate",
  tags: ["Sandbox"],
  operationId: "simulateOrderEvent",
  summary: "Simulate a lifecycle event on a test order",
  description: [
    "Moves a **test** order (created with a `cvk_test_` key) through the real lifecycle, with the same transitions, state checks and events (and so the same webhooks) as CELLVI's drivers produce. A live key is 403; a live order is not visible to a test key (404).",
    '`{"event": ...}` makes one step: DRIVER_ASSIGNED (a sandbox driver, or `driver`), NEARBY (a driver position near the destination, through the real NEARBY rule: the destination needs coordinates, else 409 `conflict`), DELIVERED, EXCEPTION (`exception.close: true` closes the order for good). A step the order cannot make is a 409 `invalid_transition` naming its current state.',
    '`{"scenario": "happy_path"}` makes the rest of a successful delivery in one call: DRIVER_ASSIGNED, NEARBY, DELIVERED from CREATED or EXCEPTION (fewer steps from later states), all or nothing.',
  ].join("\n\n"),
  security: [{ ApiKey: [] }],
  middleware: [authenticate("orders:write")] as const,
  request: {
    params: OrderIdParam,
    headers: IdempotencyKeyHeader,
    body: {
      required: true,
      content: {
        "application/json": {
          schema: SimulateSchema,
          examples: {
            step: { summary: "One event", value: { event: "DRIVER_ASSIGNED" } },
            happyPath: { summary: "A whole delivery", value: { scenario: "happy_path" } },
            closeException: {
              summary: "A closed exception",
              value: { event: "EXCEPTION", exception: { code: "REFUSED", message: "Refused", close: true } },
            },
          },
        },
      },
    },
  },
  responses: {
    200: {
      description: "The order moved; `events` lists the events produced, in order",
      content: { "application/json": { schema: OrderLifecycleSchema } },
    },
    ...errorResponses(...opsErrorCodes, "conflict"),
  },
});

export function registerSimulate(app: App): void {
  app.openapi(simulateRoute, async (c) => {
    if (c.var.auth.mode !== "test") {
      throw new ApiError(
        "forbidden",
        "The sandbox works with test keys only (cvk_test_...): live orders move only when real drivers move them.",
      );
    }
    const id = c.req.valid("param").id;
    const input = c.req.valid("json");
    const overrides = { driver: input.driver, delivery: input.delivery, exception: input.exception };
    const event = input.event;
    const { body, replayed } = await runLifecycle(
      c,
      {
        path: `/v1/sandbox/orders/${id}/simulate`,
        body: input,
        idempotencyKey: c.req.valid("header")["idempotency-key"],
        actorPrefix: "sandbox",
      },
      (tx, ctx) =>
        event
          ? simulateEvent(tx, c.var.auth, id, event, overrides, ctx)
          : simulateHappyPath(tx, c.var.auth, id, overrides, ctx),
    );
    if (replayed) c.header("idempotent-replayed", "true");
    return c.json(body, 200);
  });
}
