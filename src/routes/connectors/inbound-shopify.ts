import { createRoute } from "@hono/zod-openapi";
import { receiveDelivery, recordSkippedDelivery } from "../../domain/connectors/inbound.ts";
import { mappingDefaults } from "../../domain/connectors/platforms.ts";
import { mapShopifyOrder } from "../../domain/connectors/shopify.ts";
import { verifyHmacSha256Base64 } from "../../domain/connectors/signatures.ts";
import type { App } from "../../http/context.ts";
import {
  ackOrReject,
  bodyKey,
  documentedBody,
  InboundAckSchema,
  InboundParams,
  inboundErrorResponses,
  inboundRateLimited,
  invalidSignature,
  loadInboundConnector,
  parseJsonBody,
  rawBody,
} from "./inbound-common.ts";

/** Topics that carry an order to ship; the external_id keeps a second one for the same order from creating twice. */
const orderTopics = new Set(["orders/create", "orders/paid"]);

export const shopifyInboundRoute = createRoute({
  method: "post",
  path: "/v1/inbound/shopify/{connector_id}",
  tags: ["Inbound (platforms)"],
  operationId: "receiveShopifyWebhook",
  summary: "Shopify webhook (orders/create)",
  description:
    "Called by Shopify, not by you: paste the connector's `inbound_url` into Shopify's webhook settings. Authenticated by `X-Shopify-Hmac-Sha256` (base64 HMAC-SHA256 of the raw body with the connector's webhook secret), compared in constant time; a wrong or missing signature is a 401 and creates nothing. Deliveries are de-duplicated by `X-Shopify-Webhook-Id`, and orders by their id (external_id `shopify:<id>` by default). An order with nothing to ship is acknowledged with status `skipped` and listed in the connector's deliveries. Other topics are acknowledged and skipped.",
  security: [],
  ...inboundRateLimited,
  request: {
    params: InboundParams,
    body: documentedBody("The order, exactly as Shopify sends it.", {
      id: 5861234567890,
      name: "#1042",
      line_items: [],
    }),
  },
  responses: {
    200: {
      description: "Received (created, duplicate or skipped)",
      content: { "application/json": { schema: InboundAckSchema } },
    },
    ...inboundErrorResponses,
  },
});

export function registerShopifyInbound(app: App): void {
  app.openapi(shopifyInboundRoute, async (c) => {
    const services = c.var.services;
    const body = await rawBody(c);
    const { connector, credentials } = await loadInboundConnector(
      c,
      "shopify",
      c.req.valid("param").connector_id,
    );
    if (
      !verifyHmacSha256Base64(credentials.webhook_secret ?? "", body, c.req.header("x-shopify-hmac-sha256"))
    ) {
      throw invalidSignature(
        "X-Shopify-Hmac-Sha256 does not match the body signed with this connector's webhook secret.",
      );
    }
    const shopDomain = connector.settings.shop_domain;
    if (typeof shopDomain === "string" && c.req.header("x-shopify-shop-domain") !== shopDomain) {
      throw invalidSignature(`X-Shopify-Shop-Domain is not ${shopDomain}, the shop of this connector.`);
    }
    const payload = parseJsonBody(body);
    const topic = c.req.header("x-shopify-topic") ?? "orders/create";
    const delivery = { key: c.req.header("x-shopify-webhook-id") ?? bodyKey(body), topic };
    if (!orderTopics.has(topic)) {
      return ackOrReject(
        c,
        await recordSkippedDelivery(
          services.db,
          connector,
          delivery,
          `topic ${topic} is not handled; subscribe to orders/create`,
        ),
      );
    }
    const result = await receiveDelivery(services.db, connector, delivery, () =>
      mapShopifyOrder(payload, {
        externalIdPrefix: connector.external_id_prefix,
        defaults: mappingDefaults(connector.defaults),
        connectorId: connector.id,
      }),
    );
    return ackOrReject(c, result);
  });
}
