import { createMiddleware } from "hono/factory";
import type { AppEnv } from "./context.ts";

/**
 * Headers every response carries. HSTS only when the service is reached over https (directly, or as its public
 * base URL says), since browsers ignore it over http and it would pin a local developer's machine.
 */
export const securityHeaders = createMiddleware<AppEnv>(async (c, next) => {
  await next();
  const headers = c.res.headers;
  headers.set("x-content-type-options", "nosniff");
  headers.set("x-frame-options", "DENY");
  headers.set("referrer-policy", "no-referrer");
  if (!headers.has("cross-origin-resource-policy")) headers.set("cross-origin-resource-policy", "same-site");
  const https =
    new URL(c.req.url).protocol === "https:" || c.var.services.config.publicBaseUrl.startsWith("https://");
  if (https) headers.set("strict-transport-security", "max-age=63072000; includeSubDomains");
});
