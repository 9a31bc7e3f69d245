import { createRoute, z } from "@hono/zod-openapi";
import { enqueueVtexFetch } from "../../domain/connectors/jobs.ts";
import { getConnector, getDelivery, recordDeliveryOutcome } from "../../domain/connectors/store.ts";
import { authenticate } from "../../http/auth.ts";
import type { App } from "../../http/context.ts";
import { ApiError, errorResponses } from "../../http/problem.ts";
import { DeliverySchema, toDelivery } from "./schemas.ts";

const Params = z.object({
  id: z
    .string()
    .openapi({ param: { name: "id", in: "path" }, example: "5b1c7f0e-8a34-4c55-9d0f-3f6a2b1c9e77" }),
  delivery_id: z
    .string()
    .openapi({ param: { name: "delivery_id", in: "path" }, example: "9a0c2f5e-1b7d-4e3a-8c6f-0d4b2a1e7c55" }),
});

export const retryConnectorDeliveryRoute = createRoute({
  method: "post",
  path: "/v1/connectors/{id}/deliveries/{delivery_id}/retry",
  tags: ["Connectors"],
  operationId: "retryConnectorDelivery",
  summary: "Read a VTEX order again",
  description:
    "For a VTEX delivery that `failed` (the OMS could not be read) or was `rejected` (fix the connector's defaults first): reads the order from the OMS again, in the background. Webhook deliveries of the other platforms carry the order themselves: resend them from the platform (the same delivery is processed again if it was rejected).",
  security: [{ ApiKey: [] }],
  middleware: [authenticate("connectors:manage")] as const,
  request: { params: Params },
  responses: {
    202: {
      description: "Queued: the delivery is pending again",
      content: { "application/json": { schema: DeliverySchema } },
    },
    ...errorResponses(
      "unauthorized",
      "forbidden",
      "not_found",
      "conflict",
      "quota_exceeded",
      "internal_error",
    ),
  },
});

export function registerRetryConnectorDelivery(app: App): void {
  app.openapi(retryConnectorDeliveryRoute, async (c) => {
    const services = c.var.services;
    const params = c.req.valid("param");
    const delivery = await services.db.transaction(async (tx) => {
      const connector = await getConnector(tx, c.var.auth, params.id);
      if (!connector) throw new ApiError("not_found", "No connector with this id.");
      const found = await getDelivery(tx, c.var.auth, connector.id, params.delivery_id);
      if (!found) throw new ApiError("not_found", "No delivery with this id on this connector.");
      await tx.query("select id from connector_deliveries where id = $1 for update", [found.id]);
      if (
        connector.platform !== "vtex" ||
        !found.platform_order_id ||
        (found.status !== "failed" && found.status !== "rejected")
      ) {
        throw new ApiError(
          "conflict",
          `Only VTEX deliveries that failed or were rejected can be retried here; this one is a ${connector.platform} delivery in status ${found.status}.`,
        );
      }
      const pending = await recordDeliveryOutcome(tx, found.id, {
        status: "pending",
        detail: "retry requested: the order will be read from the OMS again",
      });
      await enqueueVtexFetch(tx, connector, found.id, found.platform_order_id, services.clock.now());
      return pending;
    });
    return c.json(toDelivery(delivery), 202);
  });
}
