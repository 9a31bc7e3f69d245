import { createRoute } from "@hono/zod-openapi";
import { recordPositions } from "../../domain/orders/lifecycle/operations.ts";
import { PositionsResultSchema, PositionsSchema } from "../../domain/orders/lifecycle/schemas.ts";
import { authenticate } from "../../http/auth.ts";
import type { App } from "../../http/context.ts";
import { errorResponses } from "../../http/problem.ts";
import { IdempotencyKeyHeader } from "../orders/create.ts";
import { OrderIdParam } from "../orders/get.ts";
import { opsErrorCodes } from "./errors.ts";
import { runLifecycle } from "./run-lifecycle.ts";

export const positionsRoute = createRoute({
  method: "post",
  path: "/v1/orders/{id}/positions",
  tags: ["Dispatch"],
  operationId: "recordPositions",
  summary: "Report driver positions",
  description: [
    "CELLVI's driver app (scope `ops`). 1 to 500 GPS fixes per request, in any order, accepted while a driver is on the way (DRIVER_ASSIGNED or NEARBY; otherwise 409 `conflict`).",
    "Fixes not newer than the newest one already received are stored in the trail but ignored for decisions; a retried upload changes nothing. `recorded_at` may not be more than 5 minutes in the future.",
    "NEARBY fires (state NEARBY, event `NEARBY` with the position and `distance_m`) when a new fix is within the tenant's radius (default 1,000 m) of the destination: once per delivery attempt, so a driver jittering in and out of the radius does not fire it twice. A destination without coordinates never fires NEARBY. `nearby.reason` says why it did or did not fire.",
    "The newest fix also drives the ETA on the tracking page.",
  ].join("\n\n"),
  security: [{ ApiKey: [] }],
  middleware: [authenticate("ops")] as const,
  request: {
    params: OrderIdParam,
    headers: IdempotencyKeyHeader,
    body: {
      required: true,
      content: {
        "application/json": {
          schema: PositionsSchema,
          example: {
            positions: [
              { latitude: 4.6402, longitude: -74.0631, recorded_at: "2026-11-27T15:03:35Z" },
              { latitude: 4.6489, longitude: -74.0617, recorded_at: "2026-11-27T15:04:05Z" },
            ],
          },
        },
      },
    },
  },
  responses: {
    200: {
      description: "The positions are stored; `nearby` says whether NEARBY fired and why",
      content: { "application/json": { schema: PositionsResultSchema } },
    },
    ...errorResponses(...opsErrorCodes, "conflict"),
  },
});

export function registerPositions(app: App): void {
  app.openapi(positionsRoute, async (c) => {
    const id = c.req.valid("param").id;
    const input = c.req.valid("json");
    const { body, replayed } = await runLifecycle(
      c,
      {
        path: `/v1/orders/${id}/positions`,
        body: input,
        idempotencyKey: c.req.valid("header")["idempotency-key"],
        actorPrefix: "ops",
      },
      (tx, ctx) => recordPositions(tx, c.var.auth, id, input, ctx),
    );
    if (replayed) c.header("idempotent-replayed", "true");
    return c.json(body, 200);
  });
}
