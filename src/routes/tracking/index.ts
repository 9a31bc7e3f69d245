import type { App } from "../../http/context.ts";
import { rateLimitByClientAddress, trackingPolicy } from "../../http/rate-limit.ts";
import { publicCors } from "../../http/security-headers.ts";
import { registerGetTracking } from "./get.ts";

export function registerTrackingRoutes(app: App): void {
  // Shops embed tracking widgets on their own domains: any origin may read the public view (no credentials).
  app.use(
    "/v1/tracking/*",
    publicCors({
      allowMethods: ["GET", "OPTIONS"],
      allowHeaders: ["X-Tracking-Token"],
      maxAgeSeconds: 86400,
    }),
  );
  // Per client address (no key to count against); after CORS so a 429 is readable by the widget's page.
  app.use("/v1/tracking/*", rateLimitByClientAddress(trackingPolicy));
  registerGetTracking(app);
}
