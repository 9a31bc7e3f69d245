import { createRoute } from "@hono/zod-openapi";
import { deleteConnector } from "../../domain/connectors/store.ts";
import { authenticate } from "../../http/auth.ts";
import type { App } from "../../http/context.ts";
import { ApiError, errorResponses } from "../../http/problem.ts";
import { ConnectorIdParam } from "./schemas.ts";

export const deleteConnectorRoute = createRoute({
  method: "delete",
  path: "/v1/connectors/{id}",
  tags: ["Connectors"],
  operationId: "deleteConnector",
  summary: "Delete a connector",
  description:
    "Deletes the connector, its credentials, its deliveries log and its pending jobs. The orders it created stay. Its inbound URL answers 404 from now on, so remove the webhook from the platform too.",
  security: [{ ApiKey: [] }],
  middleware: [authenticate("connectors:manage")] as const,
  request: { params: ConnectorIdParam },
  responses: {
    204: { description: "Deleted" },
    ...errorResponses("unauthorized", "forbidden", "not_found", "quota_exceeded", "internal_error"),
  },
});

export function registerDeleteConnector(app: App): void {
  app.openapi(deleteConnectorRoute, async (c) => {
    const deleted = await deleteConnector(c.var.services.db, c.var.auth, c.req.valid("param").id);
    if (!deleted) throw new ApiError("not_found", "No connector with this id.");
    return c.body(null, 204);
  });
}
