import type { Context } from "hono";
import { matchedRoutes } from "hono/route";
import type { Logger } from "pino";
import type { AppEnv } from "../http/context.ts";

const accessLoggers = new WeakMap<Logger, Logger>();

/**
 * The logger of the request lines: the services' logger without its redaction. Redaction walks every field of
 * every line against the secret-looking paths (the wildcard ones make it visit each key), which cost about as much
 * as the rest of the line together; a request line has a fixed set of fields, none of them a secret, so it has
 * nothing to redact. Everything else is logged through the redacting logger.
 */
function accessLogger(logger: Logger): Logger {
  let access = accessLoggers.get(logger);
  if (!access) {
    access = logger.child({}, { redact: [] });
    accessLoggers.set(logger, access);
  }
  return access;
}

/**
 * The route a request was for, as its registered pattern (`/v1/orders/:id`), so that metrics and logs group by
 * operation. The last matched entry is the route itself even when a middleware answered first (401, 415, 429);
 * when only middleware matched (`*`, `/v1/*`), no route exists for the path, and the label says so instead of
 * echoing the path (which would let any caller create new series).
 */
export function routeLabel(c: Context<AppEnv>): string {
  const routes = matchedRoutes(c);
  const last = routes[routes.length - 1];
  if (!last || last.method === "ALL") return "unmatched";
  return last.path;
}

/**
 * Both request observations at once, called by the app's envelope middleware with the time the request started
 * (so the hot path reads the clock twice per request, not four times): the request log line and the HTTP metrics.
 *
 * The log line carries the request id, the route pattern, the tenant id and the status. It never carries the URL
 * (a tracking token may be in its query string), headers (the API key) or a body (webhook secrets): what is not
 * collected cannot leak.
 */
export function observeRequest(c: Context<AppEnv>, started: number): void {
  const seconds = (performance.now() - started) / 1000;
  // c.get, not c.var: Hono builds a fresh object of every variable on each `c.var` read.
  const { logger, metrics } = c.get("services");
  const status = c.res.status;
  const route = routeLabel(c);
  const auth = c.get("auth") as AppEnv["Variables"]["auth"] | undefined;
  metrics.observeRequest({ method: c.req.method, route, status, plan: auth?.plan ?? "none", seconds });
  const level = status >= 500 ? "error" : "info";
  if (!logger.isLevelEnabled(level)) return;
  accessLogger(logger)[level](
    {
      req_id: c.get("requestId"),
      method: c.req.method,
      route,
      status,
      ms: Math.round(seconds * 100_000) / 100,
      tenant_id: auth?.tenantId,
    },
    "request",
  );
}
