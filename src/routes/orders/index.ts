import type { App } from "../../http/context.ts";
import { registerBulkOrderRoutes } from "./bulk.ts";
import { registerCancelOrder } from "./cancel.ts";
import { registerCreateOrder } from "./create.ts";
import { registerGetOrder } from "./get.ts";
import { registerListOrders } from "./list.ts";

export function registerOrderRoutes(app: App): void {
  registerCreateOrder(app);
  registerListOrders(app);
  registerGetOrder(app);
  registerBulkOrderRoutes(app);
  registerCancelOrder(app);
}
