import { createRoute, z } from "@hono/zod-openapi";
import { listKeyAudit } from "../../domain/keys/audit.ts";
import { authenticate } from "../../http/auth.ts";
import type { App } from "../../http/context.ts";
import { ApiError, errorResponses } from "../../http/problem.ts";

const AuditQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50).openapi({ example: 50 }),
  cursor: z.string().max(40).optional().openapi({ description: "`next_cursor` of the previous page." }),
});

export const KeyAuditEventSchema = z
  .object({
    object: z.literal("key_audit_event"),
    id: z.string().openapi({ example: "42" }),
    key_id: z.string().openapi({ example: "6d0f6a1e-2b7c-4c1a-9f3e-5a8b7c6d5e4f" }),
    action: z.enum(["created", "rotated", "revoked", "updated"]),
    actor: z.string().openapi({
      description: "`api_key:<id>` (the key that made the call), `cli` (an operator) or `system`.",
      example: "api_key:0b6f5d1e-3c2a-4f7e-9a51-2d7c8e9f0a1b",
    }),
    details: z
      .record(z.string(), z.unknown())
      .openapi({ example: { replaced_by: "9a1c…", grace_seconds: 3600 } }),
    occurred_at: z.string().openapi({ example: "2026-11-28T14:03:11.512Z" }),
  })
  .openapi("KeyAuditEvent");

export const KeyAuditListSchema = z
  .object({
    object: z.literal("list"),
    data: z.array(KeyAuditEventSchema),
    has_more: z.boolean(),
    next_cursor: z.string().nullable(),
  })
  .openapi("KeyAuditList");

export const keyAuditRoute = createRoute({
  method: "get",
  path: "/v1/audit-log",
  tags: ["API keys"],
  operationId: "listKeyAuditEvents",
  summary: "API key audit log",
  description:
    "Who created, rotated, revoked or changed which of your keys (of the calling key's mode), newest first, with cursor pagination.",
  security: [{ ApiKey: [] }],
  middleware: [authenticate("keys:manage")] as const,
  request: { query: AuditQuery },
  responses: {
    200: {
      description: "A page of audit events",
      content: { "application/json": { schema: KeyAuditListSchema } },
    },
    ...errorResponses("validation_failed", "unauthorized", "forbidden", "quota_exceeded", "internal_error"),
  },
});

export function registerKeyAudit(app: App): void {
  app.openapi(keyAuditRoute, async (c) => {
    const auth = c.var.auth;
    const query = c.req.valid("query");
    let before: number | undefined;
    if (query.cursor !== undefined) {
      if (!/^[1-9][0-9]{0,15}$/.test(query.cursor)) {
        throw new ApiError("validation_failed", "The cursor is not one this API returned.", {
          errors: [{ path: "/cursor", message: "invalid cursor" }],
        });
      }
      before = Number(query.cursor);
    }
    const page = await listKeyAudit(c.var.services.db, auth.tenantId, {
      mode: auth.mode,
      limit: query.limit,
      ...(before !== undefined ? { before } : {}),
    });
    return c.json(
      {
        object: "list" as const,
        data: page.rows.map((row) => ({
          object: "key_audit_event" as const,
          id: String(row.id),
          key_id: row.key_id,
          action: row.action,
          actor: row.actor,
          details: row.details,
          occurred_at: row.occurred_at.toISOString(),
        })),
        has_more: page.nextBefore !== null,
        next_cursor: page.nextBefore === null ? null : String(page.nextBefore),
      },
      200,
    );
  });
}
