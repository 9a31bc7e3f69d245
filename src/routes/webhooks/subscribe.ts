import { createRoute, type z } from "@hono/zod-openapi";
import { generateWebhookSecret } from "../../domain/webhooks/secrets.ts";
import { createSubscription, maxSubscriptionsPerTenant } from "../../domain/webhooks/subscriptions.ts";
import { authenticate } from "../../http/auth.ts";
import type { App } from "../../http/context.ts";
import { ApiError, errorResponses } from "../../http/problem.ts";
import { SubscribeBodySchema, SubscriptionWithSecretSchema, toSubscription } from "./schemas.ts";
import { webhookKeyringOrProblem } from "./secret-keyring.ts";
import { vetSubscriptionUrl } from "./url-rules.ts";

function defineSubscribeRoute(path: string, hidden: boolean) {
  return createRoute({
    method: "post",
    path,
    tags: ["Webhooks"],
    operationId: hidden ? "subscribeWebhookAlias" : "subscribeWebhook",
    hide: hidden,
    summary: "Subscribe to events",
    description: `Registers an endpoint for the given event types and returns its signing secret (\`whsec_...\`), shown only in this response. Deliveries follow the Standard Webhooks format. The subscription takes the mode of the key: test-mode events go only to test-mode subscriptions. https is required except in test mode; URLs that resolve to private, loopback, link-local or metadata addresses are refused. At most ${maxSubscriptionsPerTenant} subscriptions per mode.`,
    security: [{ ApiKey: [] }],
    middleware: [authenticate("webhooks:manage")] as const,
    request: {
      body: {
        required: true,
        content: {
          "application/json": {
            schema: SubscribeBodySchema,
            example: {
              url: "https://erp.example.com/webhooks/cellvi",
              events: ["DRIVER_ASSIGNED", "DELIVERED", "EXCEPTION"],
              description: "ERP order status sync",
            },
          },
        },
      },
    },
    responses: {
      201: {
        description: "Subscribed. Store the secret now: it is not shown again.",
        content: { "application/json": { schema: SubscriptionWithSecretSchema } },
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
        "service_unavailable",
      ),
    },
  });
}

export const subscribeRoute = defineSubscribeRoute("/v1/webhooks/subscribe", false);
/** `POST /v1/webhooks` is the same operation under its REST name. */
export const subscribeAliasRoute = defineSubscribeRoute("/v1/webhooks", true);

export function registerSubscribe(app: App): void {
  for (const route of [subscribeRoute, subscribeAliasRoute]) {
    app.openapi(route, async (c) => {
      const services = c.var.services;
      const input = c.req.valid("json");
      const keyring = webhookKeyringOrProblem(services);
      const url = await vetSubscriptionUrl(services, c.var.auth, input.url);
      // Returned once, in plain; the row keeps it sealed.
      const secret = generateWebhookSecret();
      const result = await createSubscription(services.db, keyring, c.var.auth, {
        url,
        events: input.events,
        description: input.description ?? null,
        secret,
      });
      if (result.kind === "limit_reached") {
        throw new ApiError(
          "conflict",
          `You already have ${maxSubscriptionsPerTenant} webhook subscriptions in ${c.var.auth.mode} mode: delete one first.`,
        );
      }
      const body: z.infer<typeof SubscriptionWithSecretSchema> = {
        ...toSubscription(result.subscription, services.clock.now()),
        secret,
      };
      c.header("location", `/v1/webhooks/${result.subscription.id}`);
      return c.json(body, 201);
    });
  }
}
