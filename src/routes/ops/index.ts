import type { App } from "../../http/context.ts";
import { registerAssignDriver } from "./assign-driver.ts";
import { registerDeliver } from "./deliver.ts";
import { registerException } from "./exception.ts";
import { registerPositions } from "./positions.ts";

/** CELLVI's own side of an order's life (dispatch console, driver app): keys with the `ops` scope. */
export function registerOpsRoutes(app: App): void {
  registerAssignDriver(app);
  registerPositions(app);
  registerDeliver(app);
  registerException(app);
}
