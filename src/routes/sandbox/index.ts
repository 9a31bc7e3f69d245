import type { App } from "../../http/context.ts";
import { registerSimulate } from "./simulate.ts";

/** The sandbox: test orders move through the real lifecycle without a driver on the road. */
export function registerSandboxRoutes(app: App): void {
  registerSimulate(app);
}
