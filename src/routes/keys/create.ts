import { createRoute, z } from "@hono/zod-openapi";
import { allScopes } from "../../domain/keys/scopes.ts";
import { createApiKey } from "../../domain/keys/store.ts";
import { authenticate } from "../../http/auth.ts";
import type { App } from "../../http/context.ts";
import { ApiError, errorResponses } from "../../http/problem.ts";
import { keyPolicy } from "../../http/rate-limit.ts";
import { apiActor, CreatedApiKeySchema, toApiKey } from "./schemas.ts";

/** Active keys a tenant may hold per mode: far above any real need, low enough that a leaked key cannot mint
 * an unbounded number of others. */
export const maxActiveKeysPerMode = 100;
const maxLifetimeMs = 5 * 366 * 24 * 3600 * 1000;

export const CreateKeySchema = z
  .strictObject({
    name: z.string().trim().min(1).max(100).optional().openapi({ example: "ERP production" }),
    scopes: z
      .array(z.enum(allScopes))
      .min(1)
      .max(allScopes.length)
      .optional()
      .openapi({
        description: "Defaults to the calling key's scopes. A key can never grant a scope it does not hold.",
        example: ["orders:write", "orders:read"],
      }),
    expires_at: z.iso.datetime({ offset: true }).optional().openapi({
      description: "When the key stops working (at most 5 years ahead).",
      example: "2027-06-30T00:00:00Z",
    }),
    rate_limit_per_minute: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .optional()
      .openapi({ description: "A lower limit for this key than your tenant's.", example: 60 }),
  })
  .openapi("CreateApiKey");

export const createKeyRoute = createRoute({
  method: "post",
  path: "/v1/keys",
  tags: ["API keys"],
  operationId: "createApiKey",
  summary: "Create an API key",
  description:
    "Creates a key in the mode of the calling key (a test key creates test keys). The response is the only time the key itself (`api_key`) is shown. A key can only grant scopes it holds, and only a limit at most its own.",
  security: [{ ApiKey: [] }],
  middleware: [authenticate("keys:manage")] as const,
  request: {
    body: {
      required: true,
      content: {
        "application/json": {
          schema: CreateKeySchema,
          example: { name: "ERP production", scopes: ["orders:write", "orders:read"] },
        },
      },
    },
  },
  responses: {
    201: {
      description: "The key, with its secret shown once",
      content: { "application/json": { schema: CreatedApiKeySchema } },
    },
    ...errorResponses(
      "invalid_json",
      "validation_failed",
      "unauthorized",
      "forbidden",
      "conflict",
      "payload_too_large",
      "unsupported_media_type",
      "quota_exceeded",
      "internal_error",
    ),
  },
});

export function registerCreateKey(app: App): void {
  app.openapi(createKeyRoute, async (c) => {
    const { db, clock, config } = c.var.services;
    const auth = c.var.auth;
    const input = c.req.valid("json");
    const scopes = input.scopes ? [...new Set(input.scopes)] : auth.scopes;
    const missing = scopes.filter((scope) => !auth.scopes.includes(scope));
    if (missing.length > 0) {
      throw new ApiError("forbidden", `This API key cannot grant scopes it lacks: ${missing.join(", ")}.`, {
        missing_scopes: missing,
      });
    }
    const now = clock.now();
    let expiresAt: Date | null = null;
    if (input.expires_at !== undefined) {
      expiresAt = new Date(input.expires_at);
      const problem =
        expiresAt <= now
          ? "must be in the future"
          : expiresAt.getTime() - now.getTime() > maxLifetimeMs
            ? "must be at most 5 years ahead"
            : null;
      if (problem) {
        throw new ApiError("validation_failed", `expires_at ${problem}.`, {
          errors: [{ path: "/expires_at", message: problem }],
        });
      }
    }
    const ownLimit = keyPolicy(auth, config).limit;
    if (input.rate_limit_per_minute !== undefined && input.rate_limit_per_minute > ownLimit) {
      const message = `must be at most ${ownLimit}, the calling key's own limit`;
      throw new ApiError("validation_failed", `rate_limit_per_minute ${message}.`, {
        errors: [{ path: "/rate_limit_per_minute", message }],
      });
    }
    const created = await db.transaction(async (tx) => {
      // Serialises creations of one tenant so two concurrent requests cannot both pass the count.
      await tx.query("select 1 from tenants where id = $1 for update", [auth.tenantId]);
      const { rows } = await tx.query<{ active: number }>(
        `select count(*)::int as active from api_keys
          where tenant_id = $1 and mode = $2 and revoked_at is null and (expires_at is null or expires_at > $3)`,
        [auth.tenantId, auth.mode, now],
      );
      if ((rows[0]?.active ?? 0) >= maxActiveKeysPerMode) return null;
      return createApiKey(tx, {
        tenantId: auth.tenantId,
        mode: auth.mode,
        scopes,
        name: input.name ?? null,
        expiresAt,
        rateLimitPerMinute: input.rate_limit_per_minute ?? null,
        actor: apiActor(auth.keyId),
      });
    });
    if (!created) {
      throw new ApiError(
        "conflict",
        `You already have ${maxActiveKeysPerMode} active ${auth.mode} keys: revoke unused ones first.`,
      );
    }
    c.header("location", `/v1/keys/${created.key.id}`);
    return c.json({ ...toApiKey(created.key, now), api_key: created.apiKey }, 201);
  });
}
