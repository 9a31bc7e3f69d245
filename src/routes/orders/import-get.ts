import { createRoute, z } from "@hono/zod-openapi";
import { getImport } from "../../domain/connectors/imports.ts";
import { authenticate } from "../../http/auth.ts";
import type { App } from "../../http/context.ts";
import { ApiError, errorResponses } from "../../http/problem.ts";
import { ImportSchema, toImport } from "./imports-shared.ts";

const Params = z.object({
  id: z
    .string()
    .openapi({ param: { name: "id", in: "path" }, example: "3f0c1a5e-6b2d-4c8e-9a7f-1d2e3b4c5a69" }),
});

export const getImportRoute = createRoute({
  method: "get",
  path: "/v1/imports/{id}",
  tags: ["Orders"],
  operationId: "getImport",
  summary: "Follow a file import",
  description:
    "Progress and outcome of a CSV, SAP IDoc or Dynamics import: rows processed so far, created, duplicate and invalid counts, the first 100 invalid rows, and `status` (`running`, `completed`, or `aborted` with `error`). Progress is committed every 250 rows while a large file streams in.",
  security: [{ ApiKey: [] }],
  middleware: [authenticate("orders:read")] as const,
  request: { params: Params },
  responses: {
    200: { description: "The import", content: { "application/json": { schema: ImportSchema } } },
    ...errorResponses("unauthorized", "forbidden", "not_found", "quota_exceeded", "internal_error"),
  },
});

export function registerGetImport(app: App): void {
  app.openapi(getImportRoute, async (c) => {
    const found = await getImport(c.var.services.db, c.var.auth, c.req.valid("param").id);
    if (!found) throw new ApiError("not_found", "No import with this id.");
    return c.json(toImport(found), 200);
  });
}
