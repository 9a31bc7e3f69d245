import type { Context } from "hono";
import type { RouterRoute } from "hono/types";
import { type Logger, pino } from "pino";
import type { AppEnv } from "../http/context.ts";

const { streamSym, chindingsSym, timeSym } = pino.symbols;
const needsMetadata = Symbol.for("pino.metadata");

/**
 * The request line, written as pino would write it (level, time, the logger's bindings, the fields, msg) but
 * built as one template string. The fields are fixed and none is a secret, so pino's generic path (walking the
 * object, escaping each value, and the redaction of secret-looking paths, which alone cost about as much as the
 * rest of the line) does nothing a request line needs. A destination that wants pino's metadata (multistream,
 * pretty printing) gets the line through pino itself. Everything else the service logs goes through the
 * redacting logger.
 *
 * Only the route is escaped (once per route pattern, kept in `quotedRoutes`): no other value can hold a character
 * JSON would escape, and `JSON.stringify` of each was about 0.5 µs of a line of 1.2. The method is one of the HTTP
 * parser's method names (upper-case letters and `-`); the request id is the caller's only when it matches
 * `[A-Za-z0-9._:-]{1,128}`, else `req_` and hex digits (`assignRequestId`); the tenant id is a PostgreSQL `uuid` in
 * its text form; status and ms are numbers.
 */
function writeRequestLine(logger: Logger, level: "info" | "error", fields: RequestLine): void {
  const internals = logger as unknown as Record<symbol, unknown>;
  const stream = internals[streamSym] as
    | { write(line: string): unknown; [needsMetadata]?: boolean }
    | undefined;
  if (!stream || stream[needsMetadata] === true) {
    logger[level](fields, "request");
    return;
  }
  const time = (internals[timeSym] as () => string)();
  const tenant = fields.tenant_id === undefined ? "" : `,"tenant_id":"${fields.tenant_id}"`;
  stream.write(
    `{"level":${logger.levels.values[level]}${time}${internals[chindingsSym] as string},"req_id":"${fields.req_id}","method":"${fields.method}","route":${quotedRoute(fields.route)},"status":${fields.status},"ms":${fields.ms}${tenant},"msg":"request"}\n`,
  );
}

/** Route patterns as JSON strings; bounded by the app's routes (`routeLabel` never returns a request's path). */
const quotedRoutes = new Map<string, string>();

function quotedRoute(route: string): string {
  let quoted = quotedRoutes.get(route);
  if (quoted === undefined) {
    quoted = JSON.stringify(route);
    quotedRoutes.set(route, quoted);
  }
  return quoted;
}

interface RequestLine {
  req_id: string;
  method: string;
  route: string;
  status: number;
  ms: number;
  tenant_id: string | undefined;
}

/**
 * The route a request was for, as its registered pattern (`/v1/orders/:id`), from the routes its path matched
 * (`matchedRoutes`; the app works it out once per match, src/app.ts), so that metrics and logs group by
 * operation. The last matched entry is the route itself even when a middleware answered first (401, 415, 429);
 * when only middleware matched (`*`, `/v1/*`), no route exists for the path, and the label says so instead of
 * echoing the path (which would let any caller create new series).
 */
export function routeLabel(routes: readonly RouterRoute[]): string {
  const last = routes[routes.length - 1];
  if (!last || last.method === "ALL") return "unmatched";
  return last.path;
}

/**
 * Both request observations at once, called by the app's envelope with the time the request started (so the hot
 * path reads the clock twice per request, not four times) and its `routeLabel`: the request log line and the HTTP
 * metrics.
 *
 * The log line carries the request id, the route pattern, the tenant id and the status. It never carries the URL
 * (a tracking token may be in its query string), headers (the API key) or a body (webhook secrets): what is not
 * collected cannot leak.
 */
export function observeRequest(c: Context<AppEnv>, started: number, route: string): void {
  const seconds = (performance.now() - started) / 1000;
  // c.get, not c.var: Hono builds a fresh object of every variable on each `c.var` read.
  const { logger, metrics } = c.get("services");
  const status = c.res.status;
  const auth = c.get("auth") as AppEnv["Variables"]["auth"] | undefined;
  metrics.observeRequest({ method: c.req.method, route, status, plan: auth?.plan ?? "none", seconds });
  const level = status >= 500 ? "error" : "info";
  if (!logger.isLevelEnabled(level)) return;
  writeRequestLine(logger, level, {
    req_id: c.get("requestId"),
    method: c.req.method,
    route,
    status,
    ms: Math.round(seconds * 100_000) / 100,
    tenant_id: auth?.tenantId,
  });
}
