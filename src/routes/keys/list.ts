import { createRoute, z } from "@hono/zod-openapi";
import { decodeKeyCursor, encodeKeyCursor, listApiKeysPage } from "../../domain/keys/store.ts";
import { authenticate } from "../../http/auth.ts";
import type { App } from "../../http/context.ts";
import { ApiError, errorResponses } from "../../http/problem.ts";
import { ApiKeySchema, toApiKey } from "./schemas.ts";

const ListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(100).openapi({ example: 100 }),
  cursor: z.string().max(200).optional().openapi({ description: "`next_cursor` of the previous page." }),
});

export const ApiKeyListSchema = z
  .object({
    object: z.literal("list"),
    data: z.array(ApiKeySchema),
    has_more: z.boolean(),
    next_cursor: z.string().nullable(),
  })
  .openapi("ApiKeyList");

export const listKeysRoute = createRoute({
  method: "get",
  path: "/v1/keys",
  tags: ["API keys"],
  operationId: "listApiKeys",
  summary: "List API keys",
  description:
    "Your API keys of the mode of the calling key (a test key sees test keys only), revoked and expired ones included, oldest first, with cursor pagination. The keys themselves are never shown again after creation: only their `prefix`.",
  security: [{ ApiKey: [] }],
  middleware: [authenticate("keys:manage")] as const,
  request: { query: ListQuery },
  responses: {
    200: { description: "Your keys", content: { "application/json": { schema: ApiKeyListSchema } } },
    ...errorResponses("validation_failed", "unauthorized", "forbidden", "quota_exceeded", "internal_error"),
  },
});

export function registerListKeys(app: App): void {
  app.openapi(listKeysRoute, async (c) => {
    const { db, clock, keyVerifier } = c.var.services;
    const query = c.req.valid("query");
    let afterId: string | null = null;
    if (query.cursor !== undefined) {
      afterId = decodeKeyCursor(query.cursor);
      if (!afterId) {
        throw new ApiError("validation_failed", "The cursor is not one this API returned.", {
          errors: [{ path: "/cursor", message: "invalid cursor" }],
        });
      }
    }
    const page = await listApiKeysPage(db, c.var.auth, {
      limit: query.limit,
      ...(afterId ? { afterId } : {}),
    });
    const now = clock.now();
    return c.json(
      {
        object: "list" as const,
        data: page.rows.map((key) => toApiKey(key, now, keyVerifier.pendingUse(key.id))),
        has_more: page.nextAfterId !== null,
        next_cursor: page.nextAfterId ? encodeKeyCursor(page.nextAfterId) : null,
      },
      200,
    );
  });
}
