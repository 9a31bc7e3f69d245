import type { App } from "../../src/http/context.ts";
import {
  buildOpenApiDocument,
  type httpMethods,
  type Operation,
} from "../../src/routes/docs/openapi-document.ts";

/**
 * Every operation the app serves under /v1, derived from the app itself (its router and its OpenAPI document), so
 * that routes added later are covered by the security tests without anyone listing them here.
 */
export interface AppOperation {
  method: string;
  /** Hono's form: `/v1/orders/:id`. */
  path: string;
  params: string[];
  /** The documented operation, when the route is documented (hidden aliases are not). */
  doc: Operation | undefined;
  /** An example JSON body: the documented one, else `{}`. */
  exampleBody: unknown;
  /** Values for required query parameters, from their documented examples. */
  requiredQuery: Record<string, string>;
  /** A write (POST, PUT, PATCH): it may be sent a body. */
  takesJson: boolean;
  /** Declares a JSON request body (undocumented aliases count: they alias documented writes). */
  jsonEndpoint: boolean;
}

export function appOperations(app: App): AppOperation[] {
  const document = buildOpenApiDocument(app, { baseUrl: "http://cellvi.test", version: "test" });
  const docOperation = (method: string, path: string): Operation | undefined => {
    const openApiPath = path.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
    const lower = method.toLowerCase() as (typeof httpMethods)[number];
    return document.paths[openApiPath]?.[lower];
  };
  const seen = new Set<string>();
  const operations: AppOperation[] = [];
  for (const route of app.routes) {
    if (route.method === "ALL" || !route.path.startsWith("/v1/")) continue;
    const id = `${route.method} ${route.path}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const doc = docOperation(route.method, route.path);
    const json = doc?.requestBody?.content["application/json"];
    const requiredQuery: Record<string, string> = {};
    for (const parameter of doc?.parameters ?? []) {
      if (parameter.in === "query" && parameter.required) {
        requiredQuery[parameter.name] = String(parameter.example ?? parameter.schema?.example ?? "");
      }
    }
    operations.push({
      method: route.method,
      path: route.path,
      params: [...route.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((match) => match[1]!),
      doc,
      exampleBody: freshen(json?.example ?? Object.values(json?.examples ?? {})[0]?.value ?? {}),
      requiredQuery,
      takesJson: ["POST", "PUT", "PATCH"].includes(route.method),
      jsonEndpoint:
        ["POST", "PUT", "PATCH"].includes(route.method) && (doc === undefined || json !== undefined),
    });
  }
  return operations;
}

/** The resource family a path's first parameter names: the static segment right before it. */
export function familyOfParam(path: string): string | null {
  const match = /\/([a-z][a-z0-9_-]*)\/:[A-Za-z0-9_]+/.exec(path);
  return match ? match[1]! : null;
}

/** The resource family a collection route creates: its first segment after /v1. */
export function familyOfCollection(path: string): string {
  return path.split("/")[2] ?? "";
}

export function fillPath(path: string, values: Record<string, string>): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, (_, name: string) => encodeURIComponent(values[name] ?? name));
}

const isoDateTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Documented examples carry fixed timestamps; one written as "a moment ago" (within two days of now) is moved to a
 * minute ago, so a route that rejects readings from the future or the distant past accepts it today as well.
 */
function freshen(value: unknown): unknown {
  if (typeof value === "string" && isoDateTime.test(value)) {
    const at = Date.parse(value);
    return Math.abs(at - Date.now()) < 2 * 86_400_000 ? new Date(Date.now() - 60_000).toISOString() : value;
  }
  if (Array.isArray(value)) return value.map(freshen);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, freshen(inner)]));
  }
  return value;
}
