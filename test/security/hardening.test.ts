import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app.ts";
import { createLogger } from "../../src/bootstrap.ts";
import { loadConfig } from "../../src/config.ts";
import { createTestContext, orderBody, type TestContext } from "../support/app.ts";
import { dbKinds } from "../support/db.ts";

function expectSecurityHeaders(res: Response, label: string) {
  expect(res.headers.get("x-content-type-options"), label).toBe("nosniff");
  expect(res.headers.get("x-frame-options"), label).toBe("DENY");
  expect(res.headers.get("referrer-policy"), label).toBe("no-referrer");
}

describe("security headers", () => {
  let t: TestContext;
  beforeAll(async () => {
    t = await createTestContext("embedded");
  });
  afterAll(() => t.close());

  it("are on every response: success, problem, unknown path, wrong method, health", async () => {
    const { apiKey } = await t.newTenant();
    const responses: [string, Response][] = [
      ["list", await t.request("/v1/orders", { key: apiKey })],
      ["401", await t.request("/v1/orders")],
      ["400", await t.request("/v1/orders", { method: "POST", key: apiKey, json: {} })],
      ["404", await t.request("/v1/nothing-here")],
      ["405", await t.request("/v1/orders", { method: "DELETE", key: apiKey })],
      ["healthz", await t.request("/healthz")],
      ["tracking", await t.request("/v1/tracking/CVNOPE?token=x")],
    ];
    for (const [label, res] of responses) expectSecurityHeaders(res, label);
    // Served over plain http (and a public URL that is not https): no HSTS, it would pin a developer's machine.
    expect(responses[0]![1].headers.get("strict-transport-security")).toBeNull();
  });

  it("add HSTS when the service is reached over https", async () => {
    const https = await createTestContext("embedded", {
      env: { PUBLIC_BASE_URL: "https://api.cellvi.test" },
    });
    try {
      const res = await https.request("/healthz");
      expect(res.headers.get("strict-transport-security")).toMatch(/^max-age=\d{7,}; includeSubDomains$/);
    } finally {
      await https.close();
    }
  });
});

describe("CORS", () => {
  let closed: TestContext;
  let open: TestContext;
  let apiKey: string;
  let trackingPath: string;
  beforeAll(async () => {
    closed = await createTestContext("embedded");
    open = await createTestContext("embedded", { env: { CORS_ALLOWED_ORIGINS: "https://app.example.com" } });
    apiKey = (await closed.newTenant()).apiKey;
    const order = await (
      await closed.request("/v1/orders", { method: "POST", key: apiKey, json: orderBody() })
    ).json();
    trackingPath = `/v1/tracking/${order.tracking_number}?token=${order.tracking_token}`;
  });
  afterAll(async () => {
    await closed.close();
    await open.close();
  });

  const preflight = (t: TestContext, path: string, origin: string) =>
    t.request(path, {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization",
      },
    });

  it("is closed on keyed endpoints by default: no CORS headers, a failing preflight", async () => {
    const res = await closed.request("/v1/orders", {
      key: apiKey,
      headers: { origin: "https://evil.example" },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    const pre = await preflight(closed, "/v1/orders", "https://evil.example");
    expect(pre.status).toBeGreaterThanOrEqual(400);
    expect(pre.headers.get("access-control-allow-origin")).toBeNull();
    expect(pre.headers.get("access-control-allow-headers")).toBeNull();
  });

  it("opens keyed endpoints to the configured origins only", async () => {
    const key = (await open.newTenant()).apiKey;
    const pre = await preflight(open, "/v1/orders", "https://app.example.com");
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    expect(pre.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization");
    expect(pre.headers.get("access-control-allow-credentials")).toBeNull();
    const res = await open.request("/v1/orders", { key, headers: { origin: "https://app.example.com" } });
    expect(res.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    // The client script may read the rate-limit state.
    expect(res.headers.get("access-control-expose-headers")?.toLowerCase()).toContain("ratelimit");
    const other = await preflight(open, "/v1/orders", "https://evil.example");
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
    // The body rules still apply behind CORS, and their errors carry the CORS headers the script needs to read them.
    const wrongType = await open.request("/v1/orders", {
      method: "POST",
      key,
      headers: { origin: "https://app.example.com", "content-type": "text/plain" },
      body: "hello",
    });
    expect(wrongType.status).toBe(415);
    expect(wrongType.headers.get("content-type")).toContain("application/problem+json");
    expect(wrongType.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    const tooLarge = await open.request("/v1/orders", {
      method: "POST",
      key,
      headers: { origin: "https://app.example.com", "content-type": "application/json" },
      body: JSON.stringify({ padding: "x".repeat(1024 * 1024) }),
    });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    // The key check's refusals too (the envelope runs it itself, src/app.ts), and a handler's errors.
    const refused = await open.request("/v1/whoami", {
      key: "not-a-key",
      headers: { origin: "https://app.example.com" },
    });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    const missing = await open.request("/v1/orders/00000000-0000-4000-8000-000000000000", {
      key,
      headers: { origin: "https://app.example.com" },
    });
    expect(missing.status).toBe(404);
    expect(missing.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    expect(missing.headers.get("ratelimit")).not.toBeNull();
  });

  it("keeps the public tracking endpoint open to any origin, either way", async () => {
    for (const t of [closed, open]) {
      const res = await t.request(trackingPath, { headers: { origin: "https://any-shop.example" } });
      expect(res.headers.get("access-control-allow-origin")).toBe("*");
    }
    const pre = await closed.request(trackingPath, {
      method: "OPTIONS",
      headers: { origin: "https://any-shop.example", "access-control-request-method": "GET" },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-origin")).toBe("*");
  });

  it("rejects a malformed origin list at start-up", () => {
    expect(() => loadConfig({ CORS_ALLOWED_ORIGINS: "app.example.com" })).toThrow(/CORS_ALLOWED_ORIGINS/);
  });
});

describe.each(dbKinds)("API keys never stored or logged, on %s", (kind) => {
  it("appear in no log line and no database row, through the whole key lifecycle", async () => {
    let logged = "";
    const sink = new Writable({
      write(chunk, _encoding, done) {
        logged += chunk.toString();
        done();
      },
    });
    const logger = createLogger(loadConfig({ LOG_LEVEL: "trace" }), sink);
    const t = await createTestContext(kind);
    // The same app, logging at trace level through the production logger setup.
    const app = createApp({ ...t.services, logger });
    const call = (path: string, key: string | undefined, init: RequestInit & { json?: unknown } = {}) => {
      const headers = new Headers(init.headers);
      if (key) headers.set("authorization", `Bearer ${key}`);
      if (init.json !== undefined) headers.set("content-type", "application/json");
      return app.request(`http://cellvi.test${path}`, {
        ...init,
        headers,
        ...(init.json !== undefined ? { body: JSON.stringify(init.json) } : {}),
      });
    };
    try {
      const { apiKey } = await t.newTenant();
      const secrets = [apiKey];
      const created = await (
        await call("/v1/keys", apiKey, { method: "POST", json: { name: "logged?" } })
      ).json();
      secrets.push(created.api_key);
      const rotated = await (
        await call(`/v1/keys/${created.id}/rotate`, apiKey, { method: "POST", json: {} })
      ).json();
      secrets.push(rotated.api_key);
      await call("/v1/orders", rotated.api_key);
      await call("/v1/orders", undefined, { headers: { "x-api-key": created.api_key } });
      await call(`/v1/keys/${rotated.id}/revoke`, apiKey, { method: "POST" });
      await call("/v1/orders", rotated.api_key);
      // A near-miss (one character off) is not logged either: it is almost the key.
      await call("/v1/orders", `${apiKey.slice(0, -1)}x`);
      await t.services.keyVerifier.flushUsage();
      logger.flush?.();

      expect(logged.length).toBeGreaterThan(0);
      const tables = ["api_keys", "key_audit_log", "tenants"];
      const rows = [];
      for (const table of tables) rows.push(...(await t.services.db.query(`select * from ${table}`)).rows);
      const stored = JSON.stringify(rows);
      for (const secret of secrets) {
        expect(logged).not.toContain(secret);
        expect(logged).not.toContain(secret.slice(9, 41));
        expect(stored).not.toContain(secret);
        expect(stored).not.toContain(secret.slice(9, 41));
      }
    } finally {
      await t.close();
    }
  });
});

describe("the logger the service builds", () => {
  it("redacts key-bearing fields whatever a caller passes", () => {
    let out = "";
    const production = createLogger(
      loadConfig({ LOG_LEVEL: "info" }),
      new Writable({
        write(chunk, _e, done) {
          out += chunk.toString();
          done();
        },
      }),
    );
    production.info(
      { headers: { authorization: "Bearer cvk_test_secret1" }, api_key: "cvk_test_secret2" },
      "x",
    );
    production.info(
      { authorization: "Bearer cvk_test_secret3", nested: { api_key: "cvk_test_secret4" } },
      "y",
    );
    expect(out).toContain("[redacted]");
    expect(out).not.toContain("cvk_test_secret");
  });
});
