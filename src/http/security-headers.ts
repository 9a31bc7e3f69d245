import type { Context } from "hono";
import { cors } from "hono/cors";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "./context.ts";

/**
 * Headers every response carries (the app's envelope middleware calls this on the final response). HSTS only when
 * the service is reached over https (directly, or as its public base URL says), since browsers ignore it over http
 * and it would pin a local developer's machine.
 */
export function applySecurityHeaders(c: Context<AppEnv>, headers: Headers): void {
  headers.set("x-content-type-options", "nosniff");
  headers.set("x-frame-options", "DENY");
  headers.set("referrer-policy", "no-referrer");
  if (!headers.has("cross-origin-resource-policy")) headers.set("cross-origin-resource-policy", "same-site");
  // A prefix test rather than `new URL(...)`: this runs on every response.
  const https =
    c.req.url.startsWith("https:") || c.get("services").config.publicBaseUrl.startsWith("https://");
  if (https) headers.set("strict-transport-security", "max-age=63072000; includeSubDomains");
}

/** Public paths with their own, open CORS policy (shops embed tracking widgets on any origin). */
export const publicCorsPaths = [/^\/v1\/tracking\//];

/**
 * CORS for the keyed API: closed unless CORS_ALLOWED_ORIGINS lists origins. An API key in a browser is readable by
 * anyone who opens the page, so the default is that no other origin may call with one; a preflight then gets no
 * CORS headers and the browser refuses. Configured origins get exactly the headers the API uses, no credentials
 * (keys travel in headers, never cookies).
 */
export const keyedCors = createMiddleware<AppEnv>(async (c, next) => {
  const allowed = c.get("services").config.CORS_ALLOWED_ORIGINS;
  if (allowed.length === 0 || publicCorsPaths.some((pattern) => pattern.test(c.req.path))) return next();
  return corsFor(allowed)(c, next);
});

const corsByOrigins = new Map<string, ReturnType<typeof cors>>();
function corsFor(origins: string[]) {
  const cacheKey = origins.join(" ");
  let middleware = corsByOrigins.get(cacheKey);
  if (!middleware) {
    middleware = cors({
      origin: (origin) => (origins.includes(origin) ? origin : null),
      allowMethods: ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
      allowHeaders: ["Authorization", "X-API-Key", "Content-Type", "Idempotency-Key", "X-Request-Id"],
      exposeHeaders: ["RateLimit", "RateLimit-Policy", "Retry-After", "X-Request-Id", "Idempotent-Replayed"],
      maxAge: 600,
    });
    corsByOrigins.set(cacheKey, middleware);
  }
  return middleware;
}
