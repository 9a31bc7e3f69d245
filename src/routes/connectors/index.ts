import type { App } from "../../http/context.ts";
import { registerCreateConnector } from "./create.ts";
import { registerDeleteConnector } from "./delete.ts";
import { registerListConnectorDeliveries } from "./deliveries.ts";
import { registerGetConnector } from "./get.ts";
import { registerMagentoInbound } from "./inbound-magento.ts";
import { registerShopifyInbound } from "./inbound-shopify.ts";
import { registerVtexInbound } from "./inbound-vtex.ts";
import { registerWooCommerceInbound } from "./inbound-woocommerce.ts";
import { registerListConnectors } from "./list.ts";
import { registerPollConnector } from "./poll.ts";
import { registerRetryConnectorDelivery } from "./retry-delivery.ts";
import { registerUpdateConnector } from "./update.ts";

/** Connector management (scope connectors:manage) and the inbound endpoints platforms call. */
export function registerConnectorRoutes(app: App): void {
  registerCreateConnector(app);
  registerListConnectors(app);
  registerGetConnector(app);
  registerUpdateConnector(app);
  registerDeleteConnector(app);
  registerListConnectorDeliveries(app);
  registerRetryConnectorDelivery(app);
  registerPollConnector(app);
  registerShopifyInbound(app);
  registerWooCommerceInbound(app);
  registerVtexInbound(app);
  registerMagentoInbound(app);
}
