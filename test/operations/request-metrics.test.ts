import { Counter, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createMetrics } from "../../src/observability/metrics.ts";

/**
 * The request metrics are tallied outside prom-client between scrapes (src/observability/metrics.ts): the exposition
 * must still be what prom-client's own Counter and Histogram give for the same requests, scrape after scrape.
 */
describe("request metrics", () => {
  it("expose what prom-client's own metrics would, across scrapes", async () => {
    const metrics = createMetrics();
    const registry = new Registry();
    const requests = new Counter({
      name: "cellvi_http_requests_total",
      help: "HTTP requests answered, by route pattern, method, status code and the caller's tenant plan.",
      labelNames: ["route", "method", "status", "plan"] as const,
      registers: [registry],
    });
    const duration = new Histogram({
      name: "cellvi_http_request_duration_seconds",
      help: "Time from the request reaching the app to its response being ready, by route pattern and method.",
      labelNames: ["route", "method"] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    const section = (text: string, name: string) =>
      text
        .split("\n\n")
        .find((block) => block.startsWith(`# HELP ${name} `))
        ?.trim();
    const scrapes: [string, string, number, string, number][][] = [
      [
        ["GET", "/v1/whoami", 200, "starter", 0.0004],
        ["GET", "/v1/whoami", 200, "starter", 0.002],
        ["POST", "/v1/orders/create", 401, "none", 0.001],
      ],
      [
        ["GET", "/v1/whoami", 429, "starter", 0.0003],
        ["GET", "/v1/whoami", 200, "starter", 0.02],
        ["GET", "unmatched", 404, "none", 0.0001],
      ],
      [],
    ];
    for (const batch of scrapes) {
      for (const [method, route, status, plan, seconds] of batch) {
        metrics.observeRequest({ method, route, status, plan, seconds });
        requests.labels(route, method, String(status), plan).inc();
        duration.labels(route, method).observe(seconds);
      }
      const ours = await metrics.render();
      const theirs = await registry.metrics();
      for (const name of ["cellvi_http_requests_total", "cellvi_http_request_duration_seconds"]) {
        expect(section(ours, name)).toBeDefined();
        expect(section(ours, name)).toBe(section(theirs, name));
      }
    }
  });

  it("time rate-limit decisions by backend and decision", async () => {
    const metrics = createMetrics();
    metrics.observeRateLimitDecision({ backend: "redis", allowed: true, seconds: 0.0002 });
    metrics.observeRateLimitDecision({ backend: "redis", allowed: false, seconds: 0.0002 });
    metrics.observeRateLimitDecision({ backend: "memory", allowed: true, seconds: 0.2 });
    const text = await metrics.render();
    expect(text).toContain('cellvi_rate_limit_decision_seconds_count{backend="redis",decision="allowed"} 1');
    expect(text).toContain('cellvi_rate_limit_decision_seconds_count{backend="redis",decision="denied"} 1');
    expect(text).toContain(
      'cellvi_rate_limit_decision_seconds_bucket{le="0.0001",backend="redis",decision="allowed"} 0',
    );
    expect(text).toContain(
      'cellvi_rate_limit_decision_seconds_bucket{le="0.00025",backend="redis",decision="allowed"} 1',
    );
    expect(text).toContain('cellvi_rate_limit_decision_seconds_sum{backend="memory",decision="allowed"} 0.2');
  });
});
