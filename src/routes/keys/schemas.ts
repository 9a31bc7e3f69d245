import { z } from "@hono/zod-openapi";
import { allScopes } from "../../domain/keys/scopes.ts";
import type { ApiKeyRecord } from "../../domain/keys/store.ts";

/** The key as lists and responses show it: everything but the secret, which only exists at creation. */
export const ApiKeySchema = z
  .object({
    object: z.literal("api_key"),
    id: z.string().openapi({ example: "6d0f6a1e-2b7c-4c1a-9f3e-5a8b7c6d5e4f" }),
    name: z.string().nullable().openapi({ example: "ERP production" }),
    mode: z.enum(["live", "test"]),
    prefix: z.string().openapi({
      description: "The key's first characters, to tell keys apart. Not enough to use it.",
      example: "cvk_live_4fQ2",
    }),
    scopes: z.array(z.enum(allScopes)).openapi({ example: ["orders:write", "orders:read"] }),
    rate_limit_per_minute: z.number().int().nullable().openapi({
      description: "This key's own limit; null means your tenant's (or your plan's).",
      example: null,
    }),
    status: z.enum(["active", "expired", "revoked"]),
    created_at: z.string().openapi({ example: "2026-11-28T14:03:11.512Z" }),
    expires_at: z.string().nullable().openapi({ example: null }),
    revoked_at: z.string().nullable().openapi({ example: null }),
    last_used_at: z.string().nullable().openapi({
      description: "Approximate (written every few seconds, not on every request).",
      example: "2026-11-28T15:20:00.000Z",
    }),
    replaced_by: z
      .string()
      .nullable()
      .openapi({ description: "The key that replaced this one in a rotation.", example: null }),
  })
  .openapi("ApiKey");

export const CreatedApiKeySchema = ApiKeySchema.extend({
  api_key: z.string().openapi({
    description: "The key itself. Shown this once: store it in your secret manager now.",
    example: "cvk_live_4fQ2Jx9LmN3pR7sT1vW5yZ8aB2cD6eF0gH4k2QxR9z",
  }),
}).openapi("CreatedApiKey");

export const KeyIdParam = z.object({
  id: z
    .string()
    .max(64)
    .openapi({ param: { name: "id", in: "path" }, example: "6d0f6a1e-2b7c-4c1a-9f3e-5a8b7c6d5e4f" }),
});

export function keyStatus(key: ApiKeyRecord, now: Date): "active" | "expired" | "revoked" {
  if (key.revoked_at) return "revoked";
  if (key.expires_at && key.expires_at <= now) return "expired";
  return "active";
}

/** `pendingUse` is this instance's not-yet-written use, so a list never lags the caller's own requests. */
export function toApiKey(key: ApiKeyRecord, now: Date, pendingUse?: Date): z.infer<typeof ApiKeySchema> {
  const lastUsed =
    pendingUse && (!key.last_used_at || pendingUse > key.last_used_at) ? pendingUse : key.last_used_at;
  return {
    object: "api_key",
    id: key.id,
    name: key.name,
    mode: key.mode,
    prefix: key.display_prefix,
    scopes: key.scopes,
    rate_limit_per_minute: key.rate_limit_per_minute,
    status: keyStatus(key, now),
    created_at: key.created_at.toISOString(),
    expires_at: key.expires_at?.toISOString() ?? null,
    revoked_at: key.revoked_at?.toISOString() ?? null,
    last_used_at: lastUsed?.toISOString() ?? null,
    replaced_by: key.replaced_by,
  };
}

/** The actor the audit log records for a request made with an API key. */
export function apiActor(keyId: string): string {
  return `api_key:${keyId}`;
}
