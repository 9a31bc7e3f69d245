import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { generateApiKey } from "../../src/domain/keys/format.ts";
import { revokeApiKey } from "../../src/domain/keys/store.ts";
import { createTestContext, type TestContext } from "../support/app.ts";
import { dbKinds } from "../support/db.ts";

describe.each(dbKinds)("authentication on %s", (kind) => {
  let t: TestContext;
  let tenantId: string;
  let key: string;
  beforeAll(async () => {
    t = await createTestContext(kind);
    ({ tenantId, apiKey: key } = await t.newTenant());
  });
  afterAll(() => t.close());

  async function expect401(res: Response, tokenError: boolean) {
    expect(res.status).toBe(401);
    expect(res.headers.get("content-type")).toMatch(/problem\+json/);
    expect((await res.json()).code).toBe("unauthorized");
    const challenge = res.headers.get("www-authenticate");
    expect(challenge).toContain("Bearer");
    expect(challenge?.includes('error="invalid_token"')).toBe(tokenError);
  }

  it("accepts Authorization: Bearer and X-API-Key", async () => {
    expect((await t.request("/v1/orders", { key })).status).toBe(200);
    expect((await t.request("/v1/orders", { headers: { "x-api-key": key } })).status).toBe(200);
  });

  it("rejects a missing key", async () => {
    await expect401(await t.request("/v1/orders"), false);
  });

  it("rejects a malformed key and one with a bad checksum", async () => {
    await expect401(await t.request("/v1/orders", { key: "not-a-key" }), true);
    const lastChar = key.at(-1) === "A" ? "B" : "A";
    await expect401(await t.request("/v1/orders", { key: key.slice(0, -1) + lastChar }), true);
  });

  it("rejects a well-formed key that does not exist", async () => {
    await expect401(await t.request("/v1/orders", { key: generateApiKey("test") }), true);
  });

  it("rejects a revoked key", async () => {
    const extra = await t.newKey(tenantId);
    expect((await t.request("/v1/orders", { key: extra.apiKey })).status).toBe(200);
    await revokeApiKey(t.services.db, extra.keyId);
    // Revoked behind the app's back (as another instance or the CLI would): the key cache learns it through the
    // database's NOTIFY, which must take well under a second.
    await vi.waitFor(async () => expect401(await t.request("/v1/orders", { key: extra.apiKey }), true), {
      timeout: 1000,
      interval: 20,
    });
  });

  it("answers 403 when the key lacks the scope", async () => {
    const readOnly = await t.newKey(tenantId, { scopes: ["orders:read"] });
    const res = await t.request("/v1/orders/create", { method: "POST", key: readOnly.apiKey, json: {} });
    expect(res.status).toBe(403);
    const body = await res.json();
    expect(body.code).toBe("forbidden");
    expect(body.required_scope).toBe("orders:write");
  });

  it("never stores the key itself", async () => {
    const { rows } = await t.services.db.query<Record<string, unknown>>("select * from api_keys");
    expect(JSON.stringify(rows)).not.toContain(key);
    expect(rows.every((row) => /^[0-9a-f]{64}$/.test(String(row.key_hash)))).toBe(true);
  });
});
