import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { setTenantRateLimit } from "../../src/domain/keys/tenant-limits.ts";
import { createTestContext, orderBody, serveOnNode, type TestContext } from "../support/app.ts";
import { dbKinds } from "../support/db.ts";

function parseRateLimit(header: string | null): { name: string; r: number; t: number } {
  const match = /^"([^"]+)";r=(\d+);t=(\d+)$/.exec(header ?? "");
  if (!match) throw new Error(`not a RateLimit field: ${header}`);
  return { name: match[1]!, r: Number(match[2]), t: Number(match[3]) };
}

describe.each(dbKinds)("rate limiting over HTTP on %s", (kind) => {
  let t: TestContext;
  beforeAll(async () => {
    // The production defaults, not the harness's generous test limits.
    t = await createTestContext(kind, {
      env: {
        RATE_LIMIT_PER_MINUTE: "100",
        TRACKING_RATE_LIMIT_PER_MINUTE: "3",
        RATE_LIMIT_PLANS: "growth=5",
      },
    });
  });
  afterAll(() => t.close());

  it("sends the IETF RateLimit fields on every keyed response, 100 per minute by default", async () => {
    const { apiKey } = await t.newTenant();
    const res = await t.request("/v1/orders", { key: apiKey });
    expect(res.status).toBe(200);
    expect(res.headers.get("ratelimit-policy")).toBe('"default";q=100;w=60');
    expect(res.headers.get("ratelimit")).toBe('"default";r=99;t=1');
    const second = parseRateLimit((await t.request("/v1/orders", { key: apiKey })).headers.get("ratelimit"));
    expect(second.r).toBe(98);
  });

  it("sends them on error responses of keyed routes too (404, 403, 400)", async () => {
    const { tenantId, apiKey } = await t.newTenant();
    const notFound = await t.request("/v1/orders/00000000-0000-4000-8000-000000000000", { key: apiKey });
    expect(notFound.status).toBe(404);
    expect(parseRateLimit(notFound.headers.get("ratelimit")).r).toBe(99);
    const readOnly = await t.newKey(tenantId, { scopes: ["orders:read"] });
    const forbidden = await t.request("/v1/orders", {
      method: "POST",
      key: readOnly.apiKey,
      json: orderBody(),
    });
    expect(forbidden.status).toBe(403);
    expect(forbidden.headers.get("ratelimit-policy")).toBe('"default";q=100;w=60');
    const invalid = await t.request("/v1/orders", { method: "POST", key: apiKey, json: { nope: true } });
    expect(invalid.status).toBe(400);
    expect(parseRateLimit(invalid.headers.get("ratelimit")).r).toBe(98);
  });

  it("answers 429 problem+json with Retry-After past the limit, per key", async () => {
    const { tenantId } = await t.newTenant();
    await setTenantRateLimit(t.services.db, tenantId, { perMinute: 4 });
    const { apiKey } = await t.newKey(tenantId);
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await t.request("/v1/orders", { key: apiKey })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
    const res = await t.request("/v1/orders", { key: apiKey });
    expect(res.status).toBe(429);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    const retryAfter = Number(res.headers.get("retry-after"));
    // 4 per minute: the next request is admitted 15 s after the previous admission.
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(15);
    expect(res.headers.get("ratelimit-policy")).toBe('"default";q=4;w=60');
    expect(parseRateLimit(res.headers.get("ratelimit")).r).toBe(0);
    const body = await res.json();
    expect(body.code).toBe("quota_exceeded");
    expect(body.status).toBe(429);
    expect(body.type).toBe("http://cellvi.test/developers/errors#quota-exceeded");
    expect(body.retry_after_seconds).toBe(retryAfter);
    expect(body.request_id).toMatch(/^req_/);
    // Another key of the same tenant has its own bucket.
    const other = await t.newKey(tenantId);
    expect((await t.request("/v1/orders", { key: other.apiKey })).status).toBe(200);
  });

  it("takes the limit from the tenant's plan, the tenant's override, then the key's own", async () => {
    const { tenantId, apiKey } = await t.newTenant();
    await setTenantRateLimit(t.services.db, tenantId, { plan: "growth" });
    // The plan change reaches the key cache through the database's NOTIFY.
    await vi.waitFor(async () => {
      const res = await t.request("/v1/orders", { key: apiKey });
      expect(res.headers.get("ratelimit-policy")).toBe('"growth";q=5;w=60');
    });
    await setTenantRateLimit(t.services.db, tenantId, { perMinute: 1000 });
    await vi.waitFor(async () => {
      const res = await t.request("/v1/orders", { key: apiKey });
      expect(res.headers.get("ratelimit-policy")).toBe('"growth";q=1000;w=60');
    });
    const created = await t.request("/v1/keys", {
      method: "POST",
      key: apiKey,
      json: { name: "slow", rate_limit_per_minute: 2 },
    });
    expect(created.status).toBe(201);
    const slowKey = (await created.json()).api_key as string;
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await t.request("/v1/orders", { key: slowKey })).status);
    expect(statuses).toEqual([200, 200, 429]);
  });

  it("limits the public tracking endpoint per client address, ignoring spoofable headers by default", async () => {
    const { apiKey } = await t.newTenant();
    const order = await (
      await t.request("/v1/orders", { method: "POST", key: apiKey, json: orderBody() })
    ).json();
    const path = `/v1/tracking/${order.tracking_number}?token=${order.tracking_token}`;
    const statuses = [];
    for (let i = 0; i < 4; i++) {
      // Without a trusted proxy header configured, X-Forwarded-For is the client's word and changes nothing.
      const res = await t.request(path, { headers: { "x-forwarded-for": `198.51.100.${i}` } });
      statuses.push(res.status);
      expect(res.headers.get("ratelimit-policy")).toBe('"tracking";q=3;w=60');
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    const limited = await t.request(path, { headers: { origin: "https://shop.example" } });
    expect(limited.status).toBe(429);
    // The widget's page can read the 429 (the tracking endpoint is open to any origin).
    expect(limited.headers.get("access-control-allow-origin")).toBe("*");
    expect((await limited.json()).code).toBe("quota_exceeded");
    // A CORS preflight is not a request to count.
    const preflight = await t.request(path, {
      method: "OPTIONS",
      headers: { origin: "https://shop.example", "access-control-request-method": "GET" },
    });
    expect(preflight.status).toBeLessThan(300);
  });
});

describe("client address for the tracking limit", () => {
  let t: TestContext;
  let path: string;
  beforeAll(async () => {
    t = await createTestContext("embedded", {
      env: {
        TRACKING_RATE_LIMIT_PER_MINUTE: "2",
        TRUSTED_PROXY_HEADER: "X-Forwarded-For",
        TRUSTED_PROXY_HOPS: "1",
      },
    });
    const { apiKey } = await t.newTenant();
    const order = await (
      await t.request("/v1/orders", { method: "POST", key: apiKey, json: orderBody() })
    ).json();
    path = `/v1/tracking/${order.tracking_number}?token=${order.tracking_token}`;
  });
  afterAll(() => t.close());

  const from = (xff: string) => t.request(path, { headers: { "x-forwarded-for": xff } });

  it("with a trusted proxy header, counts per the address our proxy appended (the rightmost)", async () => {
    expect((await from("203.0.113.9")).status).toBe(200);
    expect((await from("203.0.113.9")).status).toBe(200);
    expect((await from("203.0.113.9")).status).toBe(429);
    // A client prepending fake addresses is still counted as itself.
    expect((await from("10.0.0.1, 203.0.113.9")).status).toBe(429);
    expect((await from("203.0.113.10")).status).toBe(200);
  });

  it("counts an IPv6 client by its /64 and an IPv4-mapped address as IPv4", async () => {
    expect((await from("2001:db8:1:2::1")).status).toBe(200);
    expect((await from("2001:db8:1:2:ffff::7")).status).toBe(200);
    expect((await from("2001:db8:1:2::abcd")).status).toBe(429);
    expect((await from("198.51.100.77")).status).toBe(200);
    expect((await from("::ffff:198.51.100.77")).status).toBe(200);
    expect((await from("[::ffff:198.51.100.77]:5555")).status).toBe(429);
  });

  it("counts by the socket's peer address on a real server", async () => {
    const direct = await createTestContext("embedded", { env: { TRACKING_RATE_LIMIT_PER_MINUTE: "2" } });
    const node = await serveOnNode(direct.app);
    try {
      const { apiKey } = await direct.newTenant();
      const order = await (
        await direct.request("/v1/orders", { method: "POST", key: apiKey, json: orderBody() })
      ).json();
      const url = `${node.base}/v1/tracking/${order.tracking_number}?token=${order.tracking_token}`;
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await fetch(url)).status);
      expect(statuses).toEqual([200, 200, 429]);
      // The bucket was the peer's address (in-process requests, which have no socket, count as "unknown").
      const limiterState = await direct.services.rateLimiter.consume("ip:127.0.0.1", {
        name: "tracking",
        limit: 2,
        windowSeconds: 60,
      });
      expect(limiterState.allowed).toBe(false);
    } finally {
      await node.close();
      await direct.close();
    }
  });
});
