import type { App } from "../../http/context.ts";
import { registerKeyAudit } from "./audit.ts";
import { registerCreateKey } from "./create.ts";
import { registerGetKey } from "./get.ts";
import { registerListKeys } from "./list.ts";
import { registerRevokeKey } from "./revoke.ts";
import { registerRotateKey } from "./rotate.ts";
import { registerWhoami } from "./whoami.ts";

/**
 * Self-service key management (scope `keys:manage`), confined to the calling key's tenant and mode, and `whoami`,
 * which any valid key may call.
 */
export function registerKeyRoutes(app: App): void {
  registerWhoami(app);
  registerListKeys(app);
  registerCreateKey(app);
  registerGetKey(app);
  registerRevokeKey(app);
  registerRotateKey(app);
  registerKeyAudit(app);
}
