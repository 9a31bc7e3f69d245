import { createRoute, z } from "@hono/zod-openapi";
import { maxRotationGraceSeconds, rotateApiKey } from "../../domain/keys/store.ts";
import { authenticate } from "../../http/auth.ts";
import type { App } from "../../http/context.ts";
import { ApiError, errorResponses } from "../../http/problem.ts";
import { ApiKeySchema, apiActor, CreatedApiKeySchema, KeyIdParam, toApiKey } from "./schemas.ts";

export const defaultGraceSeconds = 24 * 3600;

export const RotateKeySchema = z
  .strictObject({
    grace_period_seconds: z.number().int().min(0).max(maxRotationGraceSeconds).optional().openapi({
      description:
        "How long the old key keeps working (default 86400, one day; 0 revokes it at once; at most 30 days).",
      example: 3600,
    }),
  })
  .openapi("RotateApiKey");

export const RotatedApiKeySchema = CreatedApiKeySchema.extend({
  previous_key: ApiKeySchema.openapi({
    description: "The old key, now expiring at the end of the grace period.",
  }),
}).openapi("RotatedApiKey");

export const rotateKeyRoute = createRoute({
  method: "post",
  path: "/v1/keys/{id}/rotate",
  tags: ["API keys"],
  operationId: "rotateApiKey",
  summary: "Rotate an API key",
  description:
    "Issues a new key with the same name, scopes, limit and expiry, shown once, and keeps the old one working for a grace period so you can deploy the new one without downtime. The body is optional.",
  security: [{ ApiKey: [] }],
  middleware: [authenticate("keys:manage")] as const,
  request: {
    params: KeyIdParam,
    body: {
      required: false,
      content: { "application/json": { schema: RotateKeySchema, example: { grace_period_seconds: 3600 } } },
    },
  },
  responses: {
    201: {
      description: "The new key (secret shown once) and the old one",
      content: { "application/json": { schema: RotatedApiKeySchema } },
    },
    ...errorResponses(
      "invalid_json",
      "validation_failed",
      "unauthorized",
      "forbidden",
      "not_found",
      "conflict",
      "unsupported_media_type",
      "quota_exceeded",
      "internal_error",
    ),
  },
});

export function registerRotateKey(app: App): void {
  app.openapi(rotateKeyRoute, async (c) => {
    const { db, clock, keyVerifier } = c.var.services;
    const auth = c.var.auth;
    // The body is optional: without a JSON content type the validator hands over {} (all defaults).
    const body = c.req.valid("json");
    const now = clock.now();
    const result = await rotateApiKey(db, c.req.valid("param").id, {
      graceSeconds: body.grace_period_seconds ?? defaultGraceSeconds,
      now,
      actor: apiActor(auth.keyId),
      tenantId: auth.tenantId,
      mode: auth.mode,
    });
    if (result.kind === "not_found") throw new ApiError("not_found", "No API key with this id.");
    if (result.kind === "inactive") {
      throw new ApiError("conflict", "This key is revoked or expired: create a new key instead.");
    }
    if (result.kind === "already_rotated") {
      throw new ApiError(
        "conflict",
        `This key was already rotated (its successor is ${result.old.replaced_by}): rotate that one instead.`,
        { replaced_by: result.old.replaced_by },
      );
    }
    keyVerifier.invalidateKey(result.old.id);
    c.header("location", `/v1/keys/${result.key.id}`);
    return c.json(
      { ...toApiKey(result.key, now), api_key: result.apiKey, previous_key: toApiKey(result.old, now) },
      201,
    );
  });
}
