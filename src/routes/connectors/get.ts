import { createRoute } from "@hono/zod-openapi";
import { getPollJob } from "../../domain/connectors/jobs.ts";
import { getConnector } from "../../domain/connectors/store.ts";
import { authenticate } from "../../http/auth.ts";
import type { App } from "../../http/context.ts";
import { ApiError, errorResponses } from "../../http/problem.ts";
import { ConnectorIdParam, ConnectorSchema, toConnector } from "./schemas.ts";

export const getConnectorRoute = createRoute({
  method: "get",
  path: "/v1/connectors/{id}",
  tags: ["Connectors"],
  operationId: "getConnector",
  summary: "Retrieve a connector",
  description:
    "The connector's configuration, inbound URL and (Magento) poller state. Credentials are never returned: `credentials_set` names the ones stored.",
  security: [{ ApiKey: [] }],
  middleware: [authenticate("connectors:manage")] as const,
  request: { params: ConnectorIdParam },
  responses: {
    200: { description: "The connector", content: { "application/json": { schema: ConnectorSchema } } },
    ...errorResponses("unauthorized", "forbidden", "not_found", "quota_exceeded", "internal_error"),
  },
});

export function registerGetConnector(app: App): void {
  app.openapi(getConnectorRoute, async (c) => {
    const { db, config } = c.var.services;
    const row = await getConnector(db, c.var.auth, c.req.valid("param").id);
    if (!row) throw new ApiError("not_found", "No connector with this id.");
    const pollJob = row.platform === "magento" ? await getPollJob(db, row.id) : null;
    return c.json(toConnector(row, config.publicBaseUrl, pollJob), 200);
  });
}
