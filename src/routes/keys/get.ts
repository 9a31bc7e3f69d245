import { createRoute } from "@hono/zod-openapi";
import { getScopedApiKey } from "../../domain/keys/store.ts";
import { authenticate } from "../../http/auth.ts";
import type { App } from "../../http/context.ts";
import { ApiError, errorResponses } from "../../http/problem.ts";
import { ApiKeySchema, KeyIdParam, toApiKey } from "./schemas.ts";

export const getKeyRoute = createRoute({
  method: "get",
  path: "/v1/keys/{id}",
  tags: ["API keys"],
  operationId: "getApiKey",
  summary: "Retrieve an API key",
  description: "One of your keys (without the secret). Keys of other tenants, or of the other mode, are 404.",
  security: [{ ApiKey: [] }],
  middleware: [authenticate("keys:manage")] as const,
  request: { params: KeyIdParam },
  responses: {
    200: { description: "The key", content: { "application/json": { schema: ApiKeySchema } } },
    ...errorResponses("unauthorized", "forbidden", "not_found", "quota_exceeded", "internal_error"),
  },
});

export function registerGetKey(app: App): void {
  app.openapi(getKeyRoute, async (c) => {
    const { db, clock, keyVerifier } = c.var.services;
    const key = await getScopedApiKey(db, c.var.auth, c.req.valid("param").id);
    if (!key) throw new ApiError("not_found", "No API key with this id.");
    return c.json(toApiKey(key, clock.now(), keyVerifier.pendingUse(key.id)), 200);
  });
}
