import type { App } from "../../http/context.ts";
import { registerDeleteWebhook } from "./delete.ts";
import { registerListDeliveries } from "./deliveries.ts";
import { registerGetWebhook } from "./get.ts";
import { registerListWebhooks } from "./list.ts";
import { registerRetryDelivery } from "./retry.ts";
import { registerRotateSecret } from "./rotate-secret.ts";
import { registerSubscribe } from "./subscribe.ts";
import { registerTestWebhook } from "./test.ts";
import { registerUpdateWebhook } from "./update.ts";

/** Webhook subscriptions and their delivery log (scope `webhooks:manage`). */
export function registerWebhookRoutes(app: App): void {
  // Static paths before `/v1/webhooks/{id}`, so "subscribe" and "deliveries" are never taken for an id.
  registerSubscribe(app);
  registerRetryDelivery(app);
  registerListWebhooks(app);
  registerGetWebhook(app);
  registerUpdateWebhook(app);
  registerDeleteWebhook(app);
  registerRotateSecret(app);
  registerTestWebhook(app);
  registerListDeliveries(app);
}
