import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { matchedRoutes } from "hono/route";
import type { Result } from "hono/router";
import type { H, Next, RouterRoute } from "hono/types";
import { DatabaseUnavailableError } from "./adapters/db/errors.ts";
import { checkKeyThen, keyCheckOf } from "./http/auth.ts";
import { bodyGuard, isJsonMediaType, mediaTypeOf } from "./http/body-rules.ts";
import type { App, AppEnv } from "./http/context.ts";
import { addResponseHeader, addResponseHeaders, requestHeader } from "./http/headers.ts";
import { unparsableJsonError } from "./http/json-body.ts";
import { cachedDefaultRouter, isLiteralPath } from "./http/literal-route-cache.ts";
import { prefersHtml } from "./http/negotiation.ts";
import { ApiError, fieldErrors, problemResponse } from "./http/problem.ts";
import { assignRequestId, newRequestId } from "./http/request-id.ts";
import { keyedCorsFor, securityHeaders } from "./http/security-headers.ts";
import { registerMetricsRoute } from "./observability/metrics-route.ts";
import { observeRequest, routeLabel } from "./observability/request-observer.ts";
import { preferredLanguage } from "./portal/i18n.ts";
import { registerConnectorRoutes } from "./routes/connectors/index.ts";
import { apiVersion } from "./routes/docs/document-cache.ts";
import { registerDocsRoutes } from "./routes/docs/index.ts";
import { buildOpenApiDocument } from "./routes/docs/openapi-document.ts";
import { registerHealthRoutes } from "./routes/health/index.ts";
import { registerKeyRoutes } from "./routes/keys/index.ts";
import { registerOpsRoutes } from "./routes/ops/index.ts";
import { registerOrderRoutes } from "./routes/orders/index.ts";
import { registerSandboxRoutes } from "./routes/sandbox/index.ts";
import { registerTrackingRoutes } from "./routes/tracking/index.ts";
import { renderTrackingErrorPage, trackingPageHeaders } from "./routes/tracking/page.ts";
import { registerWebhookRoutes } from "./routes/webhooks/index.ts";
import type { Services } from "./services.ts";

/** The API version (info.version); its changelog is the portal's versioning guide. */
export { apiVersion };

function renderError(error: unknown, c: Context<AppEnv>): Response {
  const services = c.get("services");
  const context = {
    baseUrl: services.config.publicBaseUrl,
    requestId: c.get("requestId") ?? newRequestId(),
    instance: c.req.path,
  };
  const problem = errorToRender(error, c, context.requestId);
  const read = c.req.method === "GET" || c.req.method === "HEAD";
  if (!read || !trackingPagePath.test(c.req.path)) return problemResponse(problem, context);
  // The tracking URL is also a page for people (src/routes/tracking/page.ts): a browser gets its errors (404 for
  // any lookup that fails, 429) as a small page with the same status, and a program the problem+json as anywhere.
  if (prefersHtml(requestHeader(c, "accept"))) {
    const lang = preferredLanguage(requestHeader(c, "accept-language"));
    const headers = new Headers(problem.headers);
    for (const [name, value] of Object.entries(trackingPageHeaders)) headers.set(name, value);
    headers.set("x-request-id", context.requestId);
    return new Response(renderTrackingErrorPage(problem, lang), { status: problem.status, headers });
  }
  const response = problemResponse(problem, context);
  response.headers.set("vary", "Accept");
  return response;
}

/** A layer's answer, kept as Hono's chain keeps it: unless the context has one already. */
function keepAnswer(c: Context<AppEnv>, res: unknown): void {
  if (res && !c.finalized) c.res = res as Response;
}

/** A layer's failure answered as Hono's chain answers it: an Error by the error handler, anything else thrown on. */
function answerFailure(c: Context<AppEnv>, error: unknown): void | Promise<void> {
  if (!(error instanceof Error)) throw error;
  c.error = error;
  const answer = answerError(error, c);
  if (!(answer instanceof Promise)) {
    c.res = answer;
    return;
  }
  return answer.then((res) => {
    c.res = res;
  });
}

/** The app's error handler (`app.onError`; the envelope calls it for the API's guards and keyed routes too). */
function answerError(error: Error, c: Context<AppEnv>): Response | Promise<Response> {
  // Hono's JSON validator says only "Malformed JSON" (an empty body too): the text it read is cached on the
  // request, so the answer can tell an empty body from a syntax error, and say where the error is.
  if (error instanceof HTTPException && error.status === 400 && error.message.startsWith("Malformed JSON")) {
    return c.req
      .text()
      .catch(() => undefined)
      .then((text) => renderError(unparsableJsonError(text), c));
  }
  return renderError(error, c);
}

/** The tracking URL, which answers a page to browsers (its errors too). */
const trackingPagePath = /^\/v1\/tracking\/[^/]+$/;

/** The ApiError an error is answered with (an unexpected one is logged here). */
function errorToRender(error: unknown, c: Context<AppEnv>, requestId: string): ApiError {
  if (error instanceof ApiError) return error;
  const { logger } = c.get("services");
  if (error instanceof HTTPException) {
    // Hono's own validators throw these: a body that is not JSON is the only 400 they raise.
    if (error.status === 400) return new ApiError("invalid_json", "The request body is not valid JSON.");
    const byStatus: Partial<Record<number, ApiError>> = {
      401: new ApiError("unauthorized", error.message),
      404: new ApiError("not_found"),
      413: new ApiError("payload_too_large"),
      415: new ApiError(
        "unsupported_media_type",
        "Send the body with the header Content-Type: application/json.",
      ),
    };
    const mapped = byStatus[error.status];
    if (mapped) return mapped;
  }
  if (error instanceof DatabaseUnavailableError) {
    // Not a bug of ours and nothing the caller did wrong: a short, retryable 503 (and a warning, not a stack).
    logger.warn({ req_id: requestId, reason: error.message }, "database unavailable");
    return new ApiError(
      "service_unavailable",
      "The service cannot reach its database right now. Retry in a few seconds.",
      {},
      { "retry-after": "2" },
    );
  }
  logger.error({ err: error, req_id: requestId, path: c.req.path }, "unhandled error");
  return new ApiError(
    "internal_error",
    "Something went wrong on our side. Retry later; quote the request_id if it persists.",
  );
}

/** What Hono's router holds for each route: its handler and the route it belongs to. */
type RouteEntry = [H, RouterRoute];

/**
 * Path patterns of every registered route, to tell a wrong method (405) from an unknown path (404). A path that a
 * route names literally (`/v1/orders/create`) answers with that route's methods only, not with those of a pattern it
 * also fits (`GET /v1/orders/{id}`): "use POST, GET" there would send the caller to a request that cannot work.
 */
function allowedMethods(app: App, path: string): string[] {
  const literal = new Set<string>();
  const patterned = new Set<string>();
  for (const route of app.routes) {
    if (route.method === "ALL") continue;
    const isLiteral = isLiteralPath(route.path);
    const pattern = new RegExp(
      `^${route.path
        .replace(/[.+?^${}()|[\]\\]/g, "\\$&")
        .replace(/\/:[^/]+/g, "/[^/]+")
        .replace(/\*/g, ".*")}/?$`,
    );
    if (pattern.test(path)) (isLiteral ? literal : patterned).add(route.method);
  }
  return [...(literal.size > 0 ? literal : patterned)];
}

/**
 * The methods of each route path without parameters (`/v1/orders/create` → POST), built once from the routes. Such a
 * path must not fall to a parameter route of another method (`GET /v1/orders/{id}` with the id "create", which
 * would answer "no order with this id" to a caller who left out `-d`): the API's guard answers 405 for it instead.
 */
function literalRouteMethods(app: App): Map<string, Set<string>> {
  const byPath = new Map<string, Set<string>>();
  for (const route of app.routes) {
    if (route.method === "ALL" || !isLiteralPath(route.path)) continue;
    const methods = byPath.get(route.path) ?? new Set<string>();
    methods.add(route.method);
    byPath.set(route.path, methods);
  }
  return byPath;
}

/** Whether a path is the API's (`/v1` and below), as Hono's `/v1/*` pattern matches it, case and all. */
export function isApiPath(path: string): boolean {
  return path.startsWith("/v1/") || path === "/v1";
}

/** The 405 of a request whose path exists for other methods only. */
function methodNotAllowed(method: string, allowed: readonly string[]): ApiError {
  return new ApiError(
    "method_not_allowed",
    `${method} is not allowed here; use ${allowed.join(", ")}.`,
    {},
    { allow: allowed.join(", ") },
  );
}

/**
 * Builds the whole HTTP application from injected services. The Node server, the Deno Edge Function and the tests
 * all call this one factory, so they serve exactly the same API.
 */
export function createApp(services: Services): App {
  const app: App = new OpenAPIHono<AppEnv>({
    // Hono's own router, with the match of each literal path kept (src/http/literal-route-cache.ts).
    router: cachedDefaultRouter<RouteEntry>((result) => joinMatch(result)),
    // Zod failures of any request part (body, query, path, headers) become one problem+json shape.
    defaultHook: (result, c) => {
      if (!result.success) {
        const errors = fieldErrors(result.error.issues);
        const count = `${errors.length} ${errors.length === 1 ? "field is" : "fields are"} invalid.`;
        // A body the route requires, validated as {} because none came (no Content-Type: a body with another type
        // is a 415 before this): say so first, or the caller reads a list of missing fields they believe they sent.
        const noBody =
          result.target === "json" && !isJsonMediaType(mediaTypeOf(c.req.header("content-type")));
        throw new ApiError(
          "validation_failed",
          noBody
            ? `The request has no body: send a JSON object with the header Content-Type: application/json. ${count}`
            : count,
          { errors },
        );
      }
    },
  });

  // The API's guards (`/v1` and below): 405 for a method a literal path does not take (see literalRouteMethods), no
  // cross-origin browser access to keyed endpoints unless CORS_ALLOWED_ORIGINS says so (tracking stays open), then
  // the body rules of writes (415 for a media type, 413 for a size).
  let literalRoutes: Map<string, Set<string>> | undefined;
  const apiGuards: MiddlewareHandler<AppEnv> = (c, next) => {
    literalRoutes ??= literalRouteMethods(app);
    const methods = literalRoutes.get(c.req.path);
    const method = c.req.method === "HEAD" ? "GET" : c.req.method;
    if (methods && method !== "OPTIONS" && !methods.has(method)) {
      throw methodNotAllowed(c.req.method, [...methods]);
    }
    const cors = keyedCorsFor(c);
    if (!cors) return bodyGuard(c, next);
    return cors(c, async () => {
      await bodyGuard(c, next);
    });
  };

  // The envelope of every request (each layer of middleware costs every request, so the API's guards run inside it
  // rather than as a layer of their own): the services, the request id (echoed as X-Request-Id), the security
  // headers, and the request log line and HTTP metrics (src/observability/), all applied to the final response,
  // whatever produced it (a handler, the error handler, or a guard's refusal). It is the app's first middleware, so
  // every match starts with it; the router then hands Hono each match as one handler (`joinMatch`), which runs the
  // envelope around the route's layers. What it returns is the final response, or a promise of it when a layer
  // waited for something.
  function envelopeAround(
    c: Context<AppEnv>,
    rest: () => unknown,
    route: string | undefined,
    joined: boolean,
  ): Response | Promise<Response> {
    const started = performance.now();
    c.set("services", services);
    const id = assignRequestId(c);
    const leave = (): Response => {
      // What Hono's chain says of a request that no layer answered (a handler that returned nothing), answered here
      // by the error handler (a plain Error: at once) so that the envelope wraps and logs the 500 it gets.
      if (joined && !c.finalized) {
        answerFailure(c, new Error("Context is not finalized: no layer of the route answered."));
      }
      addResponseHeader(c, "x-request-id", id);
      addResponseHeaders(c, securityHeaders(c));
      observeRequest(c, started, route ?? routeLabel(matchedRoutes(c)));
      return c.res;
    };
    let ran: unknown;
    if (isApiPath(c.req.path)) {
      // What Hono's middleware chain did when the guards were a layer of their own: a response they return (a CORS
      // preflight's) is the answer, and an Error they throw (or the layers below let through: those answer their
      // own) is answered by the app's error handler.
      try {
        ran = apiGuards(c, rest as Next);
      } catch (error) {
        ran = answerFailure(c, error);
      }
      if (ran instanceof Promise) {
        return ran.then(
          (answer) => {
            if (answer instanceof Response && !c.finalized) c.res = answer;
            return leave();
          },
          (error) => {
            const answered = answerFailure(c, error);
            return answered instanceof Promise ? answered.then(leave) : leave();
          },
        );
      }
      if (ran instanceof Response && !c.finalized) c.res = ran;
      return leave();
    }
    ran = rest();
    return ran instanceof Promise ? ran.then(leave) : leave();
  }
  // As a middleware it answers at once when it can, like any handler: Hono calls it directly (the envelope alone
  // matched) or awaits it.
  const envelope = ((c, next) => envelopeAround(c, next, undefined, false)) as MiddlewareHandler<AppEnv>;
  app.use("*", envelope);

  /**
   * A match as one handler, for Hono to call directly: the envelope around the route's layers (`runLayers`), and for
   * a keyed route (the envelope, `authenticate`, then the route's validators and handler) `authenticate`'s own
   * function (`checkKeyThen`) around the rest, with no middleware layer of its own. Hono runs a match of several
   * handlers through its `compose`, an async function per layer and one around them all: a request that needs no
   * I/O (`/healthz`, a keyed request admitted from its key's reserve) then still answers through promises, about
   * 2.5 µs more per request than answering at once (BENCHMARKS.md, session 13). Here each layer runs as Hono's chain
   * runs it (its answer kept unless one was given, its errors answered by the error handler, the layers around it
   * going on; the not-found answer when the chain ends unanswered), synchronously as long as the layers answer
   * synchronously. The one entry keeps the route's own: what `matchedRoutes` reports (its pattern, for the request's
   * metrics and log line) and the parameters `c.req.param()` reads in every layer (each layer matched the same path,
   * and only the last names parameters). A match that does not start with the envelope, is the envelope alone (a
   * path no route has), or has parameters in a layer before the last is left as it is: Hono runs it as before.
   */
  function joinMatch(result: Result<RouteEntry>): Result<RouteEntry> {
    const entries = result[0];
    const last = entries[entries.length - 1];
    if (entries.length < 2 || entries[0]?.[0][0] !== envelope || last === undefined) return result;
    for (let i = 1; i < entries.length - 1; i++) {
      // Two routes of one path with parameters of their own (`/developers/:slug`, then `/developers/*`): each reads
      // its own, which one entry cannot give them.
      for (const _ in entries[i]?.[1]) return result;
    }
    const handlers = entries.map((entry) => entry[0][0]);
    const route = routeLabel([last[0][1]]);
    const keyCheck = keyCheckOf(handlers[1]);
    const joined: H = (c, notFound) =>
      envelopeAround(
        c,
        keyCheck === undefined
          ? () => runLayers(c, handlers, 1, notFound)
          : () =>
              checkKeyThen(
                c,
                keyCheck.scope,
                () => runLayers(c, handlers, 2, notFound),
                (error) => answerFailure(c, error),
              ),
        route,
        true,
      );
    const entry: [RouteEntry, (typeof last)[1]] = [[joined, last[0][1]], last[1]];
    return (result.length === 2 ? [[entry], result[1]] : [[entry]]) as Result<RouteEntry>;
  }

  /**
   * A match's layers from `index` on, as Hono's chain runs them, synchronously as long as they answer
   * synchronously; `notFound` answers when they run out unanswered. A layer that calls `next()` a second time gets
   * the rejection Hono's chain gives it ("next() called multiple times"), so the layers below never run twice.
   */
  function runLayers(c: Context<AppEnv>, handlers: readonly H[], index: number, notFound: Next): unknown {
    const handler = handlers[index];
    if (handler === undefined) return c.finalized ? undefined : notFound();
    let nextCalled = false;
    try {
      const res = handler(c, () => {
        if (nextCalled) return Promise.reject(new Error("next() called multiple times"));
        nextCalled = true;
        return Promise.resolve(runLayers(c, handlers, index + 1, notFound)) as Promise<void>;
      });
      return res instanceof Promise
        ? res.then(
            (resolved) => keepAnswer(c, resolved),
            (error) => answerFailure(c, error),
          )
        : keepAnswer(c, res);
    } catch (error) {
      return answerFailure(c, error);
    }
  }

  registerHealthRoutes(app);
  registerMetricsRoute(app);
  registerOrderRoutes(app);
  registerTrackingRoutes(app);
  registerWebhookRoutes(app);
  registerOpsRoutes(app);
  registerSandboxRoutes(app);
  registerKeyRoutes(app);
  registerConnectorRoutes(app);

  // GET /openapi.json, /openapi.yaml and the developer portal (/developers), covering every route above.
  registerDocsRoutes(app);

  app.notFound((c) => {
    const methods = allowedMethods(app, c.req.path);
    if (methods.length > 0) return renderError(methodNotAllowed(c.req.method, methods), c);
    return renderError(new ApiError("not_found", `No route for ${c.req.method} ${c.req.path}.`), c);
  });
  app.onError(answerError);
  app.openAPIRegistry.registerComponent("securitySchemes", "ApiKey", {
    type: "http",
    scheme: "bearer",
    description:
      "Your API key (`cvk_live_...` or `cvk_test_...`) as a bearer token. `X-API-Key: <key>` also works.",
  });
  return app;
}

/**
 * The OpenAPI 3.0.3 document generated from the registered routes and their Zod schemas, completed with the
 * shared parts (rate-limit headers, error examples, webhook events): see src/routes/docs/openapi-document.ts.
 */
export function openApiDocument(app: App, baseUrl: string) {
  return buildOpenApiDocument(app, { baseUrl, version: apiVersion });
}
