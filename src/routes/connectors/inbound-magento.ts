import { createRoute } from "@hono/zod-openapi";
import { receiveDelivery } from "../../domain/connectors/inbound.ts";
import { magentoOrderEntity, mapMagentoOrder } from "../../domain/connectors/magento.ts";
import { textOf } from "../../domain/connectors/mapping.ts";
import { type MagentoConfig, mappingDefaults } from "../../domain/connectors/platforms.ts";
import { tokensEqual, verifyAdobeCommerceSignature } from "../../domain/connectors/signatures.ts";
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

export const magentoInboundRoute = createRoute({
  method: "post",
  path: "/v1/inbound/magento/{connector_id}",
  tags: ["Inbound (platforms)"],
  operationId: "receiveMagentoWebhook",
  summary: "Adobe Commerce webhook (order entity)",
  description:
    'Called by an Adobe Commerce webhook (for example on `observer.sales_order_place_after`) with the order entity, bare or as `{"data":{"order":{...}}}`. Authenticated by the connector\'s hook header, or by `x-adobe-commerce-webhook-signature` when `settings.webhook_public_key` is set. Answers `{"op":"success"}` as Adobe Commerce expects. The order\'s `entity_id` is the delivery key, shared with the Magento poller, so an order both pushed and polled is created once.',
  security: [],
  ...inboundRateLimited,
  request: {
    params: InboundParams,
    body: documentedBody("The order entity.", {
      data: { order: { entity_id: 4521, increment_id: "000004521" } },
    }),
  },
  responses: {
    200: { description: "Received", content: { "application/json": { schema: InboundAckSchema } } },
    ...inboundErrorResponses,
  },
});

export function registerMagentoInbound(app: App): void {
  app.openapi(magentoInboundRoute, async (c) => {
    const services = c.var.services;
    const body = await rawBody(c);
    const { connector, credentials } = await loadInboundConnector(
      c,
      "magento",
      c.req.valid("param").connector_id,
    );
    const settings = connector.settings as MagentoConfig["settings"];
    const byHeader =
      credentials.hook_token !== undefined &&
      tokensEqual(credentials.hook_token, c.req.header(settings.hook_header_name));
    const bySignature =
      settings.webhook_public_key !== undefined &&
      verifyAdobeCommerceSignature(
        settings.webhook_public_key,
        body,
        c.req.header("x-adobe-commerce-webhook-signature"),
      );
    if (!byHeader && !bySignature) {
      throw invalidSignature(
        `Neither the ${settings.hook_header_name} header${settings.webhook_public_key ? " nor x-adobe-commerce-webhook-signature" : ""} proves this request comes from the connector's store.`,
      );
    }
    const payload = parseJsonBody(body);
    const entityId = textOf(magentoOrderEntity(payload)?.entity.entity_id);
    const delivery = { key: entityId ? `order:${entityId}` : bodyKey(body), topic: "webhook" };
    const result = await receiveDelivery(services.db, connector, delivery, () =>
      mapMagentoOrder(payload, {
        externalIdPrefix: connector.external_id_prefix,
        defaults: mappingDefaults(connector.defaults),
        weightUnit: settings.weight_unit,
        connectorId: connector.id,
      }),
    );
    return ackOrReject(c, result, { op: "success" });
  });
}
