import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setTenantRateLimit } from "../../src/domain/keys/tenant-limits.ts";
import { createTestContext, orderBody, serveOnNode, type TestContext } from "../support/app.ts";

/**
 * On Node the envelope reads request headers from the IncomingMessage and adds response headers with
 * `ServerResponse.setHeader` (src/http/headers.ts); everywhere else it goes through the standard Headers objects.
 * The same app is asked the same things both ways, in process and through a real server, and must answer with
 * the same headers.
 */

/** Headers that only a socket adds, or whose value is per request by nature. */
const transportOnly = new Set(["date", "connection", "keep-alive", "content-length", "transfer-encoding"]);

function comparable(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, name) => {
    if (transportOnly.has(name)) return;
    // The remaining count and reset time move from one request to the next; the policy part must match.
    out[name] = name === "ratelimit" ? value.replace(/;r=\d+;t=\d+$/, ";r=N;t=N") : value;
  });
  return out;
}

describe("response and request headers: in process and on a Node server alike", () => {
  let t: TestContext;
  let node: Awaited<ReturnType<typeof serveOnNode>>;
  let base: string;
  let apiKey: string;

  beforeAll(async () => {
    t = await createTestContext("embedded", { env: { CORS_ALLOWED_ORIGINS: "" } });
    node = await serveOnNode(t.app);
    base = node.base;
    ({ apiKey } = await t.newTenant());
  });
  afterAll(async () => {
    await node.close();
    await t.close();
  });

  /** The same request both ways (a fixed X-Request-Id, so that header compares too). */
  async function both(path: string, init: RequestInit = {}) {
    const headers = new Headers(init.headers);
    headers.set("x-request-id", "req-compare-1");
    const inProcess = await t.app.request(`http://cellvi.test${path}`, { ...init, headers });
    const overNode = await fetch(`${base}${path}`, { ...init, headers });
    return { inProcess, overNode, bodies: [await inProcess.text(), await overNode.text()] };
  }

  it.each([
    ["a keyed 200", "/v1/whoami", "key"],
    ["a 401 without a key", "/v1/whoami", "none"],
    ["a 401 for a malformed key, with X-API-Key", "/v1/whoami", "bad"],
    ["a keyed 404 raised by the handler", "/v1/orders/00000000-0000-4000-8000-000000000000", "key"],
    ["a 404 for an unknown path (no route, so no limiter)", "/v1/no-such-thing", "unrouted"],
    ["the health check", "/healthz", "none"],
  ])("%s", async (_name, path, auth) => {
    const headers: Record<string, string> =
      auth === "key" || auth === "unrouted"
        ? { authorization: `Bearer ${apiKey}` }
        : auth === "bad"
          ? { "x-api-key": "cvk_test_not-a-key" }
          : {};
    const { inProcess, overNode } = await both(path, { headers });
    expect(overNode.status).toBe(inProcess.status);
    expect(comparable(overNode.headers)).toEqual(comparable(inProcess.headers));
    expect(overNode.headers.get("x-request-id")).toBe("req-compare-1");
    expect(overNode.headers.get("x-content-type-options")).toBe("nosniff");
    if (auth === "key") expect(overNode.headers.get("ratelimit-policy")).toMatch(/;q=\d+;w=60$/);
  });

  it("the public tracking page: its own CORS and cache headers, and a preflight", async () => {
    const order = await (
      await t.request("/v1/orders", { method: "POST", key: apiKey, json: orderBody() })
    ).json();
    const path = `/v1/tracking/${order.tracking_number}?token=${order.tracking_token}`;
    const { inProcess, overNode } = await both(path);
    expect(overNode.status).toBe(200);
    expect(comparable(overNode.headers)).toEqual(comparable(inProcess.headers));
    expect(overNode.headers.get("access-control-allow-origin")).toBe("*");
    expect(overNode.headers.get("cache-control")).toBe("no-store");

    const preflight = await both(path, {
      method: "OPTIONS",
      headers: { origin: "https://shop.example", "access-control-request-method": "GET" },
    });
    expect(preflight.overNode.status).toBe(204);
    expect(comparable(preflight.overNode.headers)).toEqual(comparable(preflight.inProcess.headers));
  });

  it("a replayed idempotent create keeps its Idempotent-Replayed header", async () => {
    const init = {
      method: "POST",
      headers: {
        authorization: `Bearer ${apiKey}`,
        "content-type": "application/json",
        "idempotency-key": "node-headers-replay",
      },
      body: JSON.stringify(orderBody({ external_id: "node-headers-replay" })),
    };
    expect((await t.app.request("http://cellvi.test/v1/orders/create", init)).status).toBe(201);
    const { inProcess, overNode, bodies } = await both("/v1/orders/create", init);
    expect(overNode.status).toBe(201);
    expect(overNode.headers.get("idempotent-replayed")).toBe("true");
    expect(comparable(overNode.headers)).toEqual(comparable(inProcess.headers));
    expect(bodies[1]).toBe(bodies[0]);
  });

  it("a 429 carries Retry-After and the RateLimit fields both ways", async () => {
    const other = await t.newTenant();
    await setTenantRateLimit(t.services.db, other.tenantId, { perMinute: 1 });
    const limited = await t.newKey(other.tenantId);
    const headers = { authorization: `Bearer ${limited.apiKey}` };
    await t.app.request("http://cellvi.test/v1/whoami", { headers });
    const { inProcess, overNode } = await both("/v1/whoami", { headers });
    expect(inProcess.status).toBe(429);
    expect(overNode.status).toBe(429);
    expect(overNode.headers.get("content-type")).toBe("application/problem+json");
    expect(overNode.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(comparable(overNode.headers)).toEqual(comparable(inProcess.headers));
  });
});
