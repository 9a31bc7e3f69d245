import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMetrics } from "../../src/observability/metrics.ts";
import { readWebhookQueue } from "../../src/observability/webhook-queue.ts";
import { createTestContext, orderBody, type TestContext } from "../support/app.ts";
import { dbKinds } from "../support/db.ts";

const metricsToken = "metrics-token-for-tests-0123456789";

/** The value of one sample line (`name{labels} value`) in a Prometheus text exposition, or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const match = /^([^{\s]+)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found: Record<string, string> = {};
    for (const pair of (match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) found[pair[1]!] = pair[2]!;
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) return Number(match[3]);
  }
  return undefined;
}

describe("metrics registry", () => {
  it("gives every app its own registry, so two apps never share or collide on series", async () => {
    const first = createMetrics();
    const second = createMetrics();
    first.observeRequest({ method: "GET", route: "/v1/orders", status: 200, plan: "growth", seconds: 0.003 });
    const labels = { route: "/v1/orders", method: "GET", status: "200", plan: "growth" };
    expect(sample(await first.render(), "cellvi_http_requests_total", labels)).toBe(1);
    expect(sample(await second.render(), "cellvi_http_requests_total", labels)).toBeUndefined();
  });

  it("counts 429 answers as rate-limit rejections by route and plan", async () => {
    const metrics = createMetrics();
    for (const status of [200, 429, 429]) {
      metrics.observeRequest({
        method: "POST",
        route: "/v1/orders/create",
        status,
        plan: "free",
        seconds: 0.001,
      });
    }
    const text = await metrics.render();
    expect(
      sample(text, "cellvi_rate_limit_rejections_total", { route: "/v1/orders/create", plan: "free" }),
    ).toBe(2);
  });

  it("records webhook attempts by outcome and the commit-to-answer latency of successful ones", async () => {
    const metrics = createMetrics();
    metrics.observeWebhookAttempt({ outcome: "succeeded", seconds: 0.004, eventAgeSeconds: 0.007 });
    metrics.observeWebhookAttempt({ outcome: "timeout", seconds: 10 });
    metrics.observeWebhookDeliveryFinished("delivered");
    const text = await metrics.render();
    expect(sample(text, "cellvi_webhook_delivery_attempts_total", { outcome: "succeeded" })).toBe(1);
    expect(sample(text, "cellvi_webhook_delivery_attempts_total", { outcome: "timeout" })).toBe(1);
    expect(sample(text, "cellvi_webhook_delivery_attempts_total", { outcome: "http_error" })).toBe(0);
    expect(sample(text, "cellvi_webhook_delivery_latency_seconds_count")).toBe(1);
    expect(sample(text, "cellvi_webhook_delivery_latency_seconds_bucket", { le: "0.01" })).toBe(1);
    expect(sample(text, "cellvi_webhook_delivery_latency_seconds_bucket", { le: "0.005" })).toBe(0);
    expect(sample(text, "cellvi_webhook_deliveries_total", { result: "delivered" })).toBe(1);
  });

  it("reports the queue as unknown (NaN, probe_success 0) when the probe fails, and still answers", async () => {
    const metrics = createMetrics();
    metrics.setWebhookQueueProbe(() => Promise.reject(new Error("database down")));
    const text = await metrics.render();
    expect(sample(text, "cellvi_webhook_queue_depth")).toBeNaN();
    expect(sample(text, "cellvi_webhook_queue_oldest_due_lag_seconds")).toBeNaN();
    expect(sample(text, "cellvi_webhook_queue_probe_success")).toBe(0);
  });

  it("adds the process metrics (RSS, event loop) only when asked", async () => {
    expect(await createMetrics().render()).not.toContain("process_resident_memory_bytes");
    expect(await createMetrics({ processMetrics: true }).render()).toContain(
      "cellvi_process_resident_memory_bytes",
    );
  });
});

describe.each(dbKinds)("GET /metrics (%s)", (kind) => {
  let ctx: TestContext;
  let apiKey: string;

  beforeAll(async () => {
    ctx = await createTestContext(kind, { env: { METRICS_TOKEN: metricsToken } });
    ({ apiKey } = await ctx.newTenant());
  });
  afterAll(() => ctx?.close());

  it("counts requests by route pattern, method, status and plan, with latency histograms", async () => {
    const created = await ctx.request("/v1/orders/create", {
      method: "POST",
      json: orderBody(),
      key: apiKey,
    });
    expect(created.status).toBe(201);
    const order = (await created.json()) as { id: string; tracking_number: string };
    expect((await ctx.request(`/v1/orders/${order.id}`, { key: apiKey })).status).toBe(200);
    expect((await ctx.request("/v1/orders/create", { method: "POST", json: orderBody() })).status).toBe(401);
    expect((await ctx.request("/no/such/path/123")).status).toBe(404);

    const response = await ctx.request("/metrics", { headers: { authorization: `Bearer ${metricsToken}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/plain");
    const text = await response.text();
    const plan = (await ctx.services.db.query<{ plan: string }>("select plan from tenants limit 1")).rows[0]!
      .plan;
    expect(
      sample(text, "cellvi_http_requests_total", {
        route: "/v1/orders/create",
        method: "POST",
        status: "201",
        plan,
      }),
    ).toBe(1);
    // The order id is not in any label: the route pattern is.
    expect(sample(text, "cellvi_http_requests_total", { route: "/v1/orders/:id", status: "200" })).toBe(1);
    expect(text).not.toContain(order.id);
    expect(
      sample(text, "cellvi_http_requests_total", { route: "/v1/orders/create", status: "401", plan: "none" }),
    ).toBe(1);
    // An unknown path becomes one "unmatched" series, never a series per path.
    expect(sample(text, "cellvi_http_requests_total", { route: "unmatched", status: "404" })).toBe(1);
    expect(text).not.toContain("/no/such/path");
    expect(
      sample(text, "cellvi_http_request_duration_seconds_count", {
        route: "/v1/orders/create",
        method: "POST",
      }),
    ).toBe(2);
  });

  it("refuses a scrape without the token, or with a wrong one, as problem+json", async () => {
    const attempts: Record<string, string>[] = [{}, { authorization: "Bearer not-the-metrics-token-at-all" }];
    for (const headers of attempts) {
      const response = await ctx.request("/metrics", { headers });
      expect(response.status).toBe(401);
      expect(response.headers.get("content-type")).toBe("application/problem+json");
      expect(((await response.json()) as { code: string }).code).toBe("unauthorized");
    }
  });

  it("reads the webhook queue depth and ages from the database at scrape time", async () => {
    const { db } = ctx.services;
    const { tenantId } = await ctx.newTenant();
    await db.query(
      `insert into webhook_subscriptions (tenant_id, mode, url, events, secret)
       values ($1, 'test', 'https://receiver.example/hook', '{*}', 'whsec_dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0')`,
      [tenantId],
    );
    const before = await readWebhookQueue(db);
    const key = await ctx.newKey(tenantId);
    expect(
      (await ctx.request("/v1/orders/create", { method: "POST", json: orderBody(), key: key.apiKey })).status,
    ).toBe(201);
    // Pretend the delivery has been waiting a minute, so the ages are visibly non-zero.
    await db.query(
      `update webhook_deliveries set created_at = now() - interval '60 seconds',
              next_attempt_at = now() - interval '30 seconds'
        where tenant_id = $1`,
      [tenantId],
    );
    ctx.services.metrics.setWebhookQueueProbe(() => readWebhookQueue(db));
    const response = await ctx.request("/metrics", { headers: { authorization: `Bearer ${metricsToken}` } });
    const text = await response.text();
    expect(sample(text, "cellvi_webhook_queue_probe_success")).toBe(1);
    expect(sample(text, "cellvi_webhook_queue_depth")).toBe(before.pending + 1);
    expect(sample(text, "cellvi_webhook_queue_due")).toBe(before.due + 1);
    expect(sample(text, "cellvi_webhook_queue_oldest_pending_age_seconds")).toBeGreaterThanOrEqual(59);
    expect(sample(text, "cellvi_webhook_queue_oldest_due_lag_seconds")).toBeGreaterThanOrEqual(29);
  });
});

describe("GET /metrics without METRICS_TOKEN", () => {
  it("is not served on the API port at all", async () => {
    const ctx = await createTestContext("embedded");
    try {
      const response = await ctx.request("/metrics", {
        headers: { authorization: "Bearer anything-goes-here" },
      });
      expect(response.status).toBe(404);
      expect(((await response.json()) as { code: string }).code).toBe("not_found");
    } finally {
      await ctx.close();
    }
  });
});
