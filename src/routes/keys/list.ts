import { createRoute, z } from "@hono/zod-openapi";
import { listApiKeys } from "../../domain/keys/store.ts";
import { authenticate } from "../../http/auth.ts";
import type { App } from "../../http/context.ts";
import { errorResponses } from "../../http/problem.ts";
import { ApiKeySchema, toApiKey } from "./schemas.ts";

export const ApiKeyListSchema = z
  .object({ object: z.literal("list"), data: z.array(ApiKeySchema) })
  .openapi("ApiKeyList");

export const listKeysRoute = createRoute({
  method: "get",
  path: "/v1/keys",
  tags: ["API keys"],
  operationId: "listApiKeys",
  summary: "List API keys",
  description:
    "Your API keys of the mode of the calling key (a test key sees test keys only), revoked and expired ones included, oldest first. The keys themselves are never shown again after creation: only their `prefix`.",
  security: [{ ApiKey: [] }],
  middleware: [authenticate("keys:manage")] as const,
  responses: {
    200: { description: "Your keys", content: { "application/json": { schema: ApiKeyListSchema } } },
    ...errorResponses("unauthorized", "forbidden", "quota_exceeded", "internal_error"),
  },
});

export function registerListKeys(app: App): void {
  app.openapi(listKeysRoute, async (c) => {
    const { db, clock, keyVerifier } = c.var.services;
    const auth = c.var.auth;
    const keys = await listApiKeys(db, auth.tenantId, auth.mode);
    const now = clock.now();
    return c.json(
      {
        object: "list" as const,
        data: keys.map((key) => toApiKey(key, now, keyVerifier.pendingUse(key.id))),
      },
      200,
    );
  });
}
