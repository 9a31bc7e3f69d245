import { createRoute } from "@hono/zod-openapi";
import { revokeApiKey } from "../../domain/keys/store.ts";
import { authenticate } from "../../http/auth.ts";
import type { App } from "../../http/context.ts";
import { ApiError, errorResponses } from "../../http/problem.ts";
import { ApiKeySchema, apiActor, KeyIdParam, toApiKey } from "./schemas.ts";

export const revokeKeyRoute = createRoute({
  method: "post",
  path: "/v1/keys/{id}/revoke",
  tags: ["API keys"],
  operationId: "revokeApiKey",
  summary: "Revoke an API key",
  description:
    "The key stops working on every instance of the API within a second. Revoking a revoked key changes nothing and answers the same. You may revoke the key you are calling with.",
  security: [{ ApiKey: [] }],
  middleware: [authenticate("keys:manage")] as const,
  request: { params: KeyIdParam },
  responses: {
    200: { description: "The revoked key", content: { "application/json": { schema: ApiKeySchema } } },
    ...errorResponses("unauthorized", "forbidden", "not_found", "quota_exceeded", "internal_error"),
  },
});

export function registerRevokeKey(app: App): void {
  app.openapi(revokeKeyRoute, async (c) => {
    const { db, clock, keyVerifier } = c.var.services;
    const auth = c.var.auth;
    const key = await revokeApiKey(db, c.req.valid("param").id, {
      tenantId: auth.tenantId,
      mode: auth.mode,
      actor: apiActor(auth.keyId),
    });
    if (!key) throw new ApiError("not_found", "No API key with this id.");
    // This instance stops accepting it now; the others learn it from the database's NOTIFY.
    keyVerifier.invalidateKey(key.id);
    return c.json(toApiKey(key, clock.now()), 200);
  });
}
