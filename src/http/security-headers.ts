import type { Context, MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "./context.ts";
import { addResponseHeaders } from "./headers.ts";

const securityHeadersOverHttp: Readonly<Record<string, string>> = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  // A route may open itself up (the tracking page): the response's own value wins (see addResponseHeaders).
  "cross-origin-resource-policy": "same-site",
};
const securityHeadersOverHttps: Readonly<Record<string, string>> = {
  ...securityHeadersOverHttp,
  "strict-transport-security": "max-age=63072000; includeSubDomains",
};

/**
 * Headers every response carries (the app's envelope middleware adds them to the final response). HSTS only when
 * the service is reached over https (directly, or as its public base URL says), since browsers ignore it over http
 * and it would pin a local developer's machine. The records are built once, not per response.
 */
export function securityHeaders(c: Context<AppEnv>): Readonly<Record<string, string>> {
  // A prefix test rather than `new URL(...)`: this runs on every response.
  const https =
    c.req.url.startsWith("https:") || c.get("services").config.publicBaseUrl.startsWith("https://");
  return https ? securityHeadersOverHttps : securityHeadersOverHttp;
}

/** Public paths with their own, open CORS policy (shops embed tracking widgets on any origin). */
export const publicCorsPaths = [/^\/v1\/tracking\//];

/**
 * The open CORS policy of the public tracking endpoint: any origin may read it, without credentials (the token
 * is in the URL or the X-Tracking-Token header, never a cookie). Preflights are answered here (204). On other
 * requests the headers are added to the final response, whatever produced it (a 404 or 429 stays readable by the
 * widget's page). Written here rather than with Hono's `cors`, which touches the response before the handler
 * runs and so makes the handler's response be copied into a new one (the body as a stream): a tenth of the
 * tracking route's CPU in its profile.
 */
export function publicCors(options: {
  allowMethods: string[];
  allowHeaders: string[];
  maxAgeSeconds: number;
}) {
  const preflight = {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": options.allowMethods.join(","),
    "access-control-allow-headers": options.allowHeaders.join(","),
    "access-control-max-age": String(options.maxAgeSeconds),
  };
  const onResponse = {
    "access-control-allow-origin": "*",
    "access-control-expose-headers": "RateLimit, RateLimit-Policy, Retry-After, X-Request-Id",
  };
  return createMiddleware<AppEnv>(async (c, next) => {
    if (c.req.method === "OPTIONS") return c.body(null, 204, preflight);
    await next();
    addResponseHeaders(c, onResponse);
  });
}

/**
 * CORS for the keyed API: closed unless CORS_ALLOWED_ORIGINS lists origins. An API key in a browser is readable by
 * anyone who opens the page, so the default is that no other origin may call with one; a preflight then gets no
 * CORS headers and the browser refuses. Configured origins get exactly the headers the API uses, no credentials
 * (keys travel in headers, never cookies). The middleware for this request, or undefined when none applies.
 */
export function keyedCorsFor(c: Context<AppEnv>): MiddlewareHandler | undefined {
  const allowed = c.get("services").config.CORS_ALLOWED_ORIGINS;
  if (allowed.length === 0 || publicCorsPaths.some((pattern) => pattern.test(c.req.path))) return undefined;
  return corsFor(allowed);
}

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
