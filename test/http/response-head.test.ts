import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setTenantRateLimit } from "../../src/domain/keys/tenant-limits.ts";
import { createTestContext, orderBody, serveOnNode, type TestContext } from "../support/app.ts";
import { rawExchange, stableHead } from "../support/raw-http.ts";

/**
 * The response head exactly as it leaves the Node server (src/server.ts's server options, where the envelope's
 * headers are held for one writeHead: src/http/node-response.ts), line by line: every header, its order, its
 * spelling. A keyed request's head is pinned; other answers are compared with the same app behind Node's own
 * ServerResponse, where the envelope's headers are set one by one with setHeader.
 */
describe("response heads on the wire", () => {
  let t: TestContext;
  let served: Awaited<ReturnType<typeof serveOnNode>>;
  let plain: Awaited<ReturnType<typeof serveOnNode>>;
  let apiKey: string;
  let limitedKey: string;
  let trackingPath: string;

  beforeAll(async () => {
    t = await createTestContext("embedded", { env: { CORS_ALLOWED_ORIGINS: "" } });
    served = await serveOnNode(t.app);
    plain = await serveOnNode(t.app, { plainServerResponse: true });
    ({ apiKey } = await t.newTenant());
    const other = await t.newTenant();
    await setTenantRateLimit(t.services.db, other.tenantId, { perMinute: 1 });
    limitedKey = (await t.newKey(other.tenantId)).apiKey;
    // Its one request of the minute: from here on it gets 429s.
    await t.request("/v1/whoami", { key: limitedKey });
    const order = await (
      await t.request("/v1/orders", { method: "POST", key: apiKey, json: orderBody() })
    ).json();
    trackingPath = `/v1/tracking/${order.tracking_number}?token=${order.tracking_token}`;
  });
  afterAll(async () => {
    await served.close();
    await plain.close();
    await t.close();
  });

  function request(method: string, path: string, headers: Record<string, string> = {}, body = ""): string {
    const lines = [`${method} ${path} HTTP/1.1`, "Host: cellvi.test", "X-Request-Id: req-head-1"];
    for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
    if (body) lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
    return `${lines.join("\r\n")}\r\n\r\n${body}`;
  }

  it("a keyed GET /v1/whoami: every header, in order", async () => {
    const { head, body } = await rawExchange(
      served.port,
      request("GET", "/v1/whoami", { Authorization: `Bearer ${apiKey}` }),
    );
    expect(stableHead(head)).toEqual([
      "HTTP/1.1 200 OK",
      'ratelimit-policy: "default";q=100000;w=60',
      'ratelimit: "default";r=<n>;t=<n>',
      "x-request-id: req-head-1",
      "x-content-type-options: nosniff",
      "x-frame-options: DENY",
      "referrer-policy: no-referrer",
      "cross-origin-resource-policy: same-site",
      "Content-Type: application/json",
      "Date: <date>",
      "Connection: keep-alive",
      "Keep-Alive: timeout=5",
      `Content-Length: ${Buffer.byteLength(body)}`,
    ]);
    expect(JSON.parse(body)).toMatchObject({ mode: "test", plan: "default" });
  });

  it("a refusal of the API's guards (a 405): the envelope's headers, then the refusal's, in order", async () => {
    const { head, body } = await rawExchange(
      served.port,
      request("DELETE", "/v1/orders/create", { Authorization: `Bearer ${apiKey}` }),
    );
    expect(stableHead(head)).toEqual([
      "HTTP/1.1 405 Method Not Allowed",
      "x-request-id: req-head-1",
      "x-content-type-options: nosniff",
      "x-frame-options: DENY",
      "referrer-policy: no-referrer",
      "cross-origin-resource-policy: same-site",
      "allow: POST",
      "content-type: application/problem+json",
      `Content-Length: ${Buffer.byteLength(body)}`,
      "Date: <date>",
      "Connection: keep-alive",
      "Keep-Alive: timeout=5",
    ]);
    expect(JSON.parse(body)).toMatchObject({ code: "method_not_allowed", request_id: "req-head-1" });
  });

  it.each([
    ["a keyed 200", () => request("GET", "/v1/whoami", { Authorization: `Bearer ${apiKey}` })],
    ["a HEAD of it", () => request("HEAD", "/v1/whoami", { Authorization: `Bearer ${apiKey}` })],
    ["a 401 without a key", () => request("GET", "/v1/whoami")],
    ["a 401 for a malformed key", () => request("GET", "/v1/whoami", { "X-API-Key": "cvk_test_nope" })],
    ["a 429 with Retry-After", () => request("GET", "/v1/whoami", { Authorization: `Bearer ${limitedKey}` })],
    [
      "a keyed 404 from the handler",
      () =>
        request("GET", "/v1/orders/00000000-0000-4000-8000-000000000000", {
          Authorization: `Bearer ${apiKey}`,
        }),
    ],
    ["a 404 for an unknown path", () => request("GET", "/v1/no-such-thing")],
    ["a 405 with Allow", () => request("DELETE", "/v1/orders/create")],
    [
      "a 415",
      () =>
        request(
          "POST",
          "/v1/orders/create",
          { Authorization: `Bearer ${apiKey}`, "Content-Type": "text/plain" },
          "x",
        ),
    ],
    [
      "a 201 with Location (a new order on each side)",
      (side: string) =>
        request(
          "POST",
          "/v1/orders/create",
          {
            Authorization: `Bearer ${apiKey}`,
            "Content-Type": "application/json",
            "Idempotency-Key": `head-${side}`,
          },
          JSON.stringify(orderBody({ external_id: `head-${side}` })),
        ),
    ],
    ["the tracking JSON with its CORS headers", () => request("GET", trackingPath)],
    ["the tracking page", () => request("GET", trackingPath, { Accept: "text/html" })],
    [
      "a tracking preflight",
      () =>
        request("OPTIONS", trackingPath, {
          Origin: "https://shop.example",
          "Access-Control-Request-Method": "GET",
        }),
    ],
    ["the health check", () => request("GET", "/healthz")],
    ["the developer portal", () => request("GET", "/developers")],
  ])("%s: the same head as with Node's own ServerResponse", async (_name, make: (side: string) => string) => {
    const before = await rawExchange(plain.port, make("a"));
    const after = await rawExchange(served.port, make("b"));
    // Only a created order's id differs between the two sides.
    const uuids = (head: string[]) =>
      stableHead(head).map((line) =>
        line.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, "<id>"),
      );
    expect(uuids(after.head)).toEqual(uuids(before.head));
    expect(after.head.length).toBeGreaterThan(4);
  });
});
