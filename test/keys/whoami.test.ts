import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { customerScopes } from "../../src/domain/keys/scopes.ts";
import { setTenantRateLimit } from "../../src/domain/keys/tenant-limits.ts";
import { createTestContext, type TestContext } from "../support/app.ts";
import { dbKinds } from "../support/db.ts";

describe.each(dbKinds)("GET /v1/whoami on %s", (kind) => {
  let t: TestContext;
  beforeAll(async () => {
    t = await createTestContext(kind, { env: { RATE_LIMIT_PER_MINUTE: "100" } });
  });
  afterAll(() => t.close());

  it("says which tenant, mode, scopes and quota the key has", async () => {
    const { tenantId, apiKey } = await t.newTenant({ mode: "live" });
    const res = await t.request("/v1/whoami", { key: apiKey });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({
      tenant_id: tenantId,
      mode: "live",
      scopes: customerScopes,
      rate_limit: { limit: 100, window_seconds: 60 },
    });
    expect(body.key_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(typeof body.plan).toBe("string");
    // It counts like any request: the RateLimit header shows one used.
    expect(res.headers.get("ratelimit")).toMatch(/;r=99;t=\d+$/);
    expect(res.headers.get("x-request-id")).toMatch(/^req_[0-9a-f]{32}$/);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  });

  it("answers the key's current plan and limit after they change, repeated calls in between", async () => {
    const { tenantId, apiKey } = await t.newTenant();
    for (let i = 0; i < 3; i++) {
      const body = await (await t.request("/v1/whoami", { key: apiKey })).json();
      expect(body.rate_limit.limit).toBe(100);
    }
    await setTenantRateLimit(t.services.db, tenantId, { plan: "growth", perMinute: 7 });
    // What the NOTIFY of the change does on every instance.
    t.services.keyVerifier.invalidateTenant(tenantId);
    const res = await t.request("/v1/whoami", { key: apiKey });
    expect(await res.json()).toMatchObject({ plan: "growth", rate_limit: { limit: 7, window_seconds: 60 } });
    expect(res.headers.get("content-type")).toBe("application/json");
  });

  it("answers the same bytes to every request of a key, in the schema's field order", async () => {
    const { apiKey } = await t.newTenant();
    const first = await (await t.request("/v1/whoami", { key: apiKey })).text();
    const second = await t.request("/v1/whoami", { key: apiKey });
    expect(await second.text()).toBe(first);
    expect(Object.keys(JSON.parse(first))).toEqual([
      "key_id",
      "tenant_id",
      "mode",
      "scopes",
      "plan",
      "rate_limit",
    ]);
  });

  it("needs no scope: a key limited to one scope may call it, and sees that scope", async () => {
    const { tenantId } = await t.newTenant();
    const { keyId, apiKey } = await t.newKey(tenantId, { scopes: ["orders:read"] });
    const res = await t.request("/v1/whoami", { key: apiKey });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.key_id).toBe(keyId);
    expect(body.scopes).toEqual(["orders:read"]);
  });

  it("answers 401 problem+json without a valid key, like every keyed route", async () => {
    const none = await t.request("/v1/whoami");
    expect(none.status).toBe(401);
    expect(none.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(none.headers.get("www-authenticate")).toContain("Bearer");
    const unknown = await t.request("/v1/whoami", { key: `cvk_test_${"A".repeat(38)}` });
    expect(unknown.status).toBe(401);
  });
});
