import { Buffer } from "node:buffer";
import { createRoute, z } from "@hono/zod-openapi";
import { listSubscriptions } from "../../domain/webhooks/subscriptions.ts";
import { authenticate } from "../../http/auth.ts";
import type { App } from "../../http/context.ts";
import { ApiError, errorResponses } from "../../http/problem.ts";
import { SubscriptionListSchema, toSubscription } from "./schemas.ts";

const ListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20).openapi({ example: 20 }),
  cursor: z.string().max(200).optional().openapi({ description: "`next_cursor` of the previous page." }),
});

const encodeCursor = (seq: number) => Buffer.from(`w:${seq}`).toString("base64url");
function decodeCursor(cursor: string): number | null {
  const match = /^w:(\d{1,15})$/.exec(Buffer.from(cursor, "base64url").toString("utf8"));
  return match ? Number(match[1]) : null;
}

export const listWebhooksRoute = createRoute({
  method: "get",
  path: "/v1/webhooks",
  tags: ["Webhooks"],
  operationId: "listWebhooks",
  summary: "List subscriptions",
  description:
    "Your webhook subscriptions in the key's mode, oldest first, with cursor pagination. Disabled ones show `enabled: false` and why.",
  security: [{ ApiKey: [] }],
  middleware: [authenticate("webhooks:manage")] as const,
  request: { query: ListQuery },
  responses: {
    200: {
      description: "A page of subscriptions",
      content: { "application/json": { schema: SubscriptionListSchema } },
    },
    ...errorResponses("validation_failed", "unauthorized", "forbidden", "quota_exceeded", "internal_error"),
  },
});

export function registerListWebhooks(app: App): void {
  app.openapi(listWebhooksRoute, async (c) => {
    const services = c.var.services;
    const query = c.req.valid("query");
    let cursor: number | undefined;
    if (query.cursor !== undefined) {
      const decoded = decodeCursor(query.cursor);
      if (decoded === null) {
        throw new ApiError("validation_failed", "The cursor is not one this API returned.", {
          errors: [{ path: "/cursor", message: "invalid cursor" }],
        });
      }
      cursor = decoded;
    }
    const page = await listSubscriptions(services.db, c.var.auth, { limit: query.limit, cursor });
    const now = services.clock.now();
    return c.json(
      {
        object: "list" as const,
        data: page.rows.map((row) => toSubscription(row, now)),
        has_more: page.nextCursor !== null,
        next_cursor: page.nextCursor === null ? null : encodeCursor(page.nextCursor),
      },
      200,
    );
  });
}
