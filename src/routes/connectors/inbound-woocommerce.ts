import { createRoute } from "@hono/zod-openapi";
import { receiveDelivery, recordSkippedDelivery } from "../../domain/connectors/inbound.ts";
import { mappingDefaults, type WooCommerceConfig } from "../../domain/connectors/platforms.ts";
import { verifyHmacSha256Base64 } from "../../domain/connectors/signatures.ts";
import { mapWooCommerceOrder } from "../../domain/connectors/woocommerce.ts";
import { mediaTypeOf } from "../../http/body-rules.ts";
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

const orderTopics = new Set(["order.created", "order.updated"]);
/** The ping WooCommerce sends (unsigned, form-encoded) when a webhook is saved. */
const pingBody = /^webhook_id=\d+$/;

export const wooCommerceInboundRoute = createRoute({
  method: "post",
  path: "/v1/inbound/woocommerce/{connector_id}",
  tags: ["Inbound (platforms)"],
  operationId: "receiveWooCommerceWebhook",
  summary: "WooCommerce webhook (order.created, order.updated)",
  description:
    "Called by WooCommerce: paste the connector's `inbound_url` as the webhook's Delivery URL and its webhook secret as Secret. The form-encoded ping `webhook_id=<id>` WooCommerce sends when the webhook is saved gets a 200 and creates nothing. Orders are authenticated by `X-WC-Webhook-Signature` (base64 HMAC-SHA256 of the raw body), de-duplicated by `X-WC-Webhook-Delivery-ID` and by order id (external_id `woo:<id>` by default). Orders in a status the connector does not ship are acknowledged and skipped.",
  security: [],
  ...inboundRateLimited,
  request: {
    params: InboundParams,
    body: documentedBody(
      "The order (REST API v3 format), or the form-encoded ping.",
      { id: 7315, status: "processing" },
      ["application/json", "application/x-www-form-urlencoded"],
    ),
  },
  responses: {
    200: {
      description: "Received (or the ping)",
      content: { "application/json": { schema: InboundAckSchema } },
    },
    ...inboundErrorResponses,
  },
});

export function registerWooCommerceInbound(app: App): void {
  app.openapi(wooCommerceInboundRoute, async (c) => {
    const services = c.var.services;
    const body = await rawBody(c);
    const { connector, credentials } = await loadInboundConnector(
      c,
      "woocommerce",
      c.req.valid("param").connector_id,
    );
    const mediaType = mediaTypeOf(c.req.header("content-type"));
    if (mediaType === "application/x-www-form-urlencoded") {
      if (!pingBody.test(new TextDecoder().decode(body).trim())) {
        throw invalidSignature("Only the webhook_id ping may be form-encoded; orders come as signed JSON.");
      }
      return c.json({ received: true as const, ping: true }, 200);
    }
    if (
      !verifyHmacSha256Base64(credentials.webhook_secret ?? "", body, c.req.header("x-wc-webhook-signature"))
    ) {
      throw invalidSignature(
        "X-WC-Webhook-Signature does not match the body signed with this connector's webhook secret.",
      );
    }
    const payload = parseJsonBody(body);
    const topic = c.req.header("x-wc-webhook-topic") ?? "order.created";
    const deliveryId = c.req.header("x-wc-webhook-delivery-id");
    const delivery = {
      key: deliveryId ? `${c.req.header("x-wc-webhook-id") ?? ""}:${deliveryId}` : bodyKey(body),
      topic,
    };
    if (!orderTopics.has(topic)) {
      return ackOrReject(
        c,
        await recordSkippedDelivery(
          services.db,
          connector,
          delivery,
          `topic ${topic} is not handled; use order.created`,
        ),
      );
    }
    const settings = connector.settings as WooCommerceConfig["settings"];
    const result = await receiveDelivery(services.db, connector, delivery, () =>
      mapWooCommerceOrder(payload, {
        externalIdPrefix: connector.external_id_prefix,
        defaults: mappingDefaults(connector.defaults),
        statuses: settings.statuses,
        connectorId: connector.id,
      }),
    );
    return ackOrReject(c, result);
  });
}
