import { createHash, timingSafeEqual } from "node:crypto";
import type { App } from "../http/context.ts";
import { ApiError } from "../http/problem.ts";

function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

/**
 * `GET /metrics` on the API port, for scrapers that can only reach the public listener (a managed Prometheus, the
 * Edge Function). It needs `Authorization: Bearer <METRICS_TOKEN>`; without METRICS_TOKEN configured the route
 * answers 404 like any unknown path, so a default deployment publishes nothing. Not in the public OpenAPI
 * document: it is for operators, not integrators.
 */
export function registerMetricsRoute(app: App): void {
  app.get("/metrics", async (c) => {
    const { config, metrics } = c.get("services");
    const expected = config.METRICS_TOKEN;
    if (!expected) throw new ApiError("not_found", "No route for GET /metrics.");
    const header = c.req.header("authorization") ?? "";
    const presented = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
    // Comparing fixed-length digests keeps the comparison constant-time whatever the presented length.
    if (!presented || !timingSafeEqual(digest(presented), digest(expected))) {
      throw new ApiError(
        "unauthorized",
        "Send the metrics token as `Authorization: Bearer <METRICS_TOKEN>`.",
        {},
        { "www-authenticate": 'Bearer realm="cellvi-connect metrics"' },
      );
    }
    return c.body(await metrics.render(), 200, {
      "content-type": metrics.contentType,
      "cache-control": "no-store",
    });
  });
}
