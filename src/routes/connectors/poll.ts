import { createRoute } from "@hono/zod-openapi";
import { getPollJob, schedulePoll } from "../../domain/connectors/jobs.ts";
import { getConnector } from "../../domain/connectors/store.ts";
import { authenticate } from "../../http/auth.ts";
import type { App } from "../../http/context.ts";
import { ApiError, errorResponses } from "../../http/problem.ts";
import { ConnectorIdParam, ConnectorSchema, toConnector } from "./schemas.ts";

export const pollConnectorRoute = createRoute({
  method: "post",
  path: "/v1/connectors/{id}/poll",
  tags: ["Connectors"],
  operationId: "pollConnector",
  summary: "Poll a Magento store now",
  description:
    "Moves the Magento poller's next run to now (it also resets its backoff after errors). Only for Magento connectors with polling on.",
  security: [{ ApiKey: [] }],
  middleware: [authenticate("connectors:manage")] as const,
  request: { params: ConnectorIdParam },
  responses: {
    202: { description: "The poll is due now", content: { "application/json": { schema: ConnectorSchema } } },
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

export function registerPollConnector(app: App): void {
  app.openapi(pollConnectorRoute, async (c) => {
    const services = c.var.services;
    const connector = await services.db.transaction(async (tx) => {
      const found = await getConnector(tx, c.var.auth, c.req.valid("param").id);
      if (!found) throw new ApiError("not_found", "No connector with this id.");
      if (found.platform !== "magento" || found.settings.poll_enabled !== true || !found.enabled) {
        throw new ApiError("conflict", "Only an enabled Magento connector with settings.poll_enabled polls.");
      }
      await schedulePoll(tx, found, services.clock.now());
      return found;
    });
    const pollJob = await getPollJob(services.db, connector.id);
    return c.json(toConnector(connector, services.config.publicBaseUrl, pollJob), 202);
  });
}
