import { createRoute, z } from "@hono/zod-openapi";
import { getPollJob, type JobRow } from "../../domain/connectors/jobs.ts";
import { platforms } from "../../domain/connectors/platforms.ts";
import { listConnectors } from "../../domain/connectors/store.ts";
import { authenticate } from "../../http/auth.ts";
import type { App } from "../../http/context.ts";
import { errorResponses } from "../../http/problem.ts";
import { ConnectorListSchema, toConnector } from "./schemas.ts";

const ListQuery = z.object({ platform: z.enum(platforms).optional() });

export const listConnectorsRoute = createRoute({
  method: "get",
  path: "/v1/connectors",
  tags: ["Connectors"],
  operationId: "listConnectors",
  summary: "List connectors",
  description:
    "Your connectors in the key's mode, oldest first (a tenant has a handful, so there is one page). Filter by `platform`.",
  security: [{ ApiKey: [] }],
  middleware: [authenticate("connectors:manage")] as const,
  request: { query: ListQuery },
  responses: {
    200: { description: "The connectors", content: { "application/json": { schema: ConnectorListSchema } } },
    ...errorResponses("validation_failed", "unauthorized", "forbidden", "quota_exceeded", "internal_error"),
  },
});

export function registerListConnectors(app: App): void {
  app.openapi(listConnectorsRoute, async (c) => {
    const { db, config } = c.var.services;
    const rows = await listConnectors(db, c.var.auth, { platform: c.req.valid("query").platform });
    const data = [];
    for (const row of rows) {
      const pollJob: JobRow | null = row.platform === "magento" ? await getPollJob(db, row.id) : null;
      data.push(toConnector(row, config.publicBaseUrl, pollJob));
    }
    return c.json({ object: "list" as const, data, has_more: false as const }, 200);
  });
}
