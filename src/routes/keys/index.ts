import type { App } from "../../http/context.ts";
import { registerKeyAudit } from "./audit.ts";
import { registerCreateKey } from "./create.ts";
import { registerGetKey } from "./get.ts";
import { registerListKeys } from "./list.ts";
import { registerRevokeKey } from "./revoke.ts";
import { registerRotateKey } from "./rotate.ts";

/** Self-service key management (scope `keys:manage`), confined to the calling key's tenant and mode. */
export function registerKeyRoutes(app: App): void {
  registerListKeys(app);
  registerCreateKey(app);
  registerGetKey(app);
  registerRevokeKey(app);
  registerRotateKey(app);
  registerKeyAudit(app);
}
