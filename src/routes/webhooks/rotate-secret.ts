import { createRoute, z } from "@hono/zod-openapi";
import { SecretBoxError } from "../../domain/connectors/secret-box.ts";
import { generateWebhookSecret } from "../../domain/webhooks/secrets.ts";
import { webhookSettings } from "../../domain/webhooks/settings.ts";
import { rotateSubscriptionSecret } from "../../domain/webhooks/subscriptions.ts";
import { authenticate } from "../../http/auth.ts";
import type { App } from "../../http/context.ts";
import { ApiError, errorResponses } from "../../http/problem.ts";
import { SubscriptionIdParam } from "./schemas.ts";
import { webhookKeyringOrProblem } from "./secret-keyring.ts";

const RotatedSchema = z
  .object({
    id: z.string().openapi({ example: "wh_4f9d2c1b7a8e4e0f9c3b2a1d0e9f8a7b" }),
    object: z.literal("webhook_secret"),
    secret: z.string().openapi({
      description: "The new signing secret. Shown only here.",
      example: "whsec_ZLg8hFq4gkSgr0gk4p3ZVd7uV3iD0lKw",
    }),
    previous_secret_expires_at: z.string().openapi({
      format: "date-time",
      description: "Until then every delivery carries two signatures: one per secret.",
      example: "2026-11-29T14:03:07.512Z",
    }),
  })
  .openapi("WebhookSecretRotation");

export const rotateSecretRoute = createRoute({
  method: "post",
  path: "/v1/webhooks/{id}/rotate-secret",
  tags: ["Webhooks"],
  operationId: "rotateWebhookSecret",
  summary: "Rotate the signing secret",
  description:
    "Issues a new secret. For the next 24 hours each delivery is signed with both the new and the previous secret (two `v1,` signatures in `webhook-signature`), so you can deploy the new secret without losing a message.",
  security: [{ ApiKey: [] }],
  middleware: [authenticate("webhooks:manage")] as const,
  request: { params: SubscriptionIdParam },
  responses: {
    200: { description: "The new secret", content: { "application/json": { schema: RotatedSchema } } },
    ...errorResponses(
      "unauthorized",
      "forbidden",
      "not_found",
      "quota_exceeded",
      "internal_error",
      "service_unavailable",
    ),
  },
});

export function registerRotateSecret(app: App): void {
  app.openapi(rotateSecretRoute, async (c) => {
    const services = c.var.services;
    const keyring = webhookKeyringOrProblem(services);
    const id = c.req.valid("param").id;
    const secret = generateWebhookSecret();
    let row: Awaited<ReturnType<typeof rotateSubscriptionSecret>>;
    try {
      row = await rotateSubscriptionSecret(
        services.db,
        keyring,
        c.var.auth,
        id,
        secret,
        services.clock.now(),
        webhookSettings(services.config).secretOverlapMs,
      );
    } catch (error) {
      if (!(error instanceof SecretBoxError)) throw error;
      // The secret being replaced must keep signing during the overlap, so it has to open; the detail (which key
      // id is missing) is for the operator's log, never a value.
      services.logger.error({ err: error, subscription_id: id }, "webhook signing secret cannot be opened");
      throw new ApiError(
        "service_unavailable",
        "This subscription's signing secret cannot be opened with the configured CONNECTOR_ENCRYPTION_KEY; the operator must restore the key it was sealed with (CONNECTOR_ENCRYPTION_PREVIOUS_KEYS).",
      );
    }
    if (!row) throw new ApiError("not_found", "No webhook subscription with this id.");
    return c.json(
      {
        id: row.id,
        object: "webhook_secret" as const,
        secret,
        previous_secret_expires_at: row.previous_secret_expires_at!.toISOString(),
      },
      200,
    );
  });
}
