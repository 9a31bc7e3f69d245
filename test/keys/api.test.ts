import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { customerScopes } from "../../src/domain/keys/scopes.ts";
import { createApiKey } from "../../src/domain/keys/store.ts";
import { createTenant } from "../../src/domain/tenants/store.ts";
import { createTestContext, type TestContext } from "../support/app.ts";
import { dbKinds } from "../support/db.ts";

/** A clock the test can move forward: expiry and rotation grace periods are judged by it. */
function movableClock() {
  let offsetMs = 0;
  return {
    now: () => new Date(Date.now() + offsetMs),
    advance(ms: number) {
      offsetMs += ms;
    },
  };
}

describe.each(dbKinds)("API key management over HTTP on %s", (kind) => {
  let t: TestContext;
  const clock = movableClock();
  beforeAll(async () => {
    t = await createTestContext(kind, { clock });
  });
  afterAll(() => t.close());

  const orders = (key: string) => t.request("/v1/orders", { key }).then((res) => res.status);
  const post = (path: string, key: string, json?: unknown) =>
    t.request(path, { method: "POST", key, ...(json !== undefined ? { json } : {}) });

  it("gives a tenant's first key every customer scope, not ops", async () => {
    const { apiKey } = await t.newTenant();
    const list = await (await t.request("/v1/keys", { key: apiKey })).json();
    expect(list.object).toBe("list");
    expect(list.data).toHaveLength(1);
    expect(list.data[0].scopes).toEqual(customerScopes);
    expect(list.data[0].scopes).not.toContain("ops");
    expect(list.data[0].scopes).toContain("keys:manage");
  });

  it("creates a key that works at once, shown once, listed without its secret", async () => {
    const { apiKey } = await t.newTenant();
    const res = await post("/v1/keys", apiKey, { name: "ERP", scopes: ["orders:read"] });
    expect(res.status).toBe(201);
    const created = await res.json();
    expect(created).toMatchObject({ object: "api_key", name: "ERP", mode: "test", scopes: ["orders:read"] });
    expect(created.status).toBe("active");
    expect(created.api_key).toMatch(/^cvk_test_[0-9A-Za-z]{38}$/);
    expect(created.api_key.startsWith(created.prefix)).toBe(true);
    expect(await orders(created.api_key)).toBe(200);
    // Read-only: cannot create orders, cannot manage keys.
    expect((await post("/v1/orders", created.api_key, {})).status).toBe(403);
    expect((await t.request("/v1/keys", { key: created.api_key })).status).toBe(403);

    const listText = await (await t.request("/v1/keys", { key: apiKey })).text();
    expect(listText).not.toContain(created.api_key);
    expect(listText).not.toContain("key_hash");
    const list = JSON.parse(listText);
    expect(list.data.map((k: { id: string }) => k.id)).toContain(created.id);
    const one = await (await t.request(`/v1/keys/${created.id}`, { key: apiKey })).json();
    expect(one.id).toBe(created.id);
    expect(one.api_key).toBeUndefined();
  });

  it("never lets a key grant what it does not hold", async () => {
    const { tenantId, apiKey } = await t.newTenant();
    const limited = await t.newKey(tenantId, { scopes: ["keys:manage", "orders:read"] });
    const escalate = await post("/v1/keys", limited.apiKey, { scopes: ["orders:read", "orders:write"] });
    expect(escalate.status).toBe(403);
    expect((await escalate.json()).missing_scopes).toEqual(["orders:write"]);
    const ops = await post("/v1/keys", apiKey, { scopes: ["ops"] });
    expect(ops.status).toBe(403);
    // Without scopes, a new key gets exactly the caller's.
    const inherited = await (await post("/v1/keys", limited.apiKey, {})).json();
    expect(inherited.scopes).toEqual(["keys:manage", "orders:read"]);
    // Nor a higher limit than its own (the harness's service default here).
    const faster = await post("/v1/keys", apiKey, { rate_limit_per_minute: 100_001 });
    expect(faster.status).toBe(400);
    expect((await faster.json()).errors[0].path).toBe("/rate_limit_per_minute");
  });

  it("validates the body: unknown fields, bad scopes, past or far expiry", async () => {
    const { apiKey } = await t.newTenant();
    const cases = [
      { scopes: ["orders:delete"] },
      { scopes: [] },
      { name: "" },
      { nmae: "typo" },
      { expires_at: "tomorrow" },
      { expires_at: new Date(Date.now() - 60_000).toISOString() },
      { expires_at: new Date(Date.now() + 6 * 366 * 86_400_000).toISOString() },
      { rate_limit_per_minute: 0 },
      { rate_limit_per_minute: 1.5 },
    ];
    for (const body of cases) {
      const res = await post("/v1/keys", apiKey, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
    }
  });

  it("stops an expired key, judged by the service clock", async () => {
    const { apiKey } = await t.newTenant();
    const expiresAt = new Date(clock.now().getTime() + 3_600_000).toISOString();
    const created = await (await post("/v1/keys", apiKey, { expires_at: expiresAt })).json();
    expect(created.expires_at).toBe(expiresAt);
    expect(await orders(created.api_key)).toBe(200);
    clock.advance(3_600_001);
    try {
      expect(await orders(created.api_key)).toBe(401);
      const listed = await (await t.request(`/v1/keys/${created.id}`, { key: apiKey })).json();
      expect(listed.status).toBe("expired");
    } finally {
      clock.advance(-3_600_001);
    }
  });

  it("revokes: at once on this instance, idempotently, audited once", async () => {
    const { apiKey } = await t.newTenant();
    const created = await (await post("/v1/keys", apiKey, { name: "to revoke" })).json();
    expect(await orders(created.api_key)).toBe(200);
    const revoked = await post(`/v1/keys/${created.id}/revoke`, apiKey);
    expect(revoked.status).toBe(200);
    const body = await revoked.json();
    expect(body.status).toBe("revoked");
    expect(await orders(created.api_key)).toBe(401);
    const again = await (await post(`/v1/keys/${created.id}/revoke`, apiKey)).json();
    expect(again.revoked_at).toBe(body.revoked_at);
    const audit = await (await t.request("/v1/audit-log", { key: apiKey })).json();
    const events = audit.data.filter((e: { key_id: string }) => e.key_id === created.id);
    expect(events.map((e: { action: string }) => e.action)).toEqual(["revoked", "created"]);
  });

  it("lets a key revoke itself", async () => {
    const { apiKey } = await t.newTenant();
    const self = await (await post("/v1/keys", apiKey, {})).json();
    expect((await post(`/v1/keys/${self.id}/revoke`, self.api_key)).status).toBe(200);
    expect(await orders(self.api_key)).toBe(401);
  });

  it("rotates with a grace period: both keys work, then only the new one", async () => {
    const { apiKey } = await t.newTenant();
    const old = await (await post("/v1/keys", apiKey, { name: "ERP", scopes: ["orders:read"] })).json();
    const res = await post(`/v1/keys/${old.id}/rotate`, apiKey, { grace_period_seconds: 600 });
    expect(res.status).toBe(201);
    const rotated = await res.json();
    expect(rotated.api_key).not.toBe(old.api_key);
    expect(rotated).toMatchObject({ name: "ERP", scopes: ["orders:read"], mode: "test", status: "active" });
    expect(rotated.previous_key.id).toBe(old.id);
    expect(rotated.previous_key.replaced_by).toBe(rotated.id);
    const graceEnd = new Date(rotated.previous_key.expires_at).getTime();
    expect(Math.abs(graceEnd - (clock.now().getTime() + 600_000))).toBeLessThan(10_000);
    expect(await orders(old.api_key)).toBe(200);
    expect(await orders(rotated.api_key)).toBe(200);
    clock.advance(601_000);
    try {
      expect(await orders(old.api_key)).toBe(401);
      expect(await orders(rotated.api_key)).toBe(200);
    } finally {
      clock.advance(-601_000);
    }
    // A key has one successor: rotating it again during its grace period is a conflict.
    const twice = await post(`/v1/keys/${old.id}/rotate`, apiKey, {});
    expect(twice.status).toBe(409);
    expect((await twice.json()).replaced_by).toBe(rotated.id);
    // An expired or revoked key cannot be rotated (it would resurrect access).
    const revoked = await (await post("/v1/keys", apiKey, {})).json();
    await post(`/v1/keys/${revoked.id}/revoke`, apiKey);
    expect((await post(`/v1/keys/${revoked.id}/rotate`, apiKey, {})).status).toBe(409);
  });

  it("rotates with no grace (revoking at once) and with the default day when the body is absent", async () => {
    const { apiKey } = await t.newTenant();
    const first = await (await post("/v1/keys", apiKey, {})).json();
    await post(`/v1/keys/${first.id}/rotate`, apiKey, { grace_period_seconds: 0 });
    expect(await orders(first.api_key)).toBe(401);
    const second = await (await post("/v1/keys", apiKey, {})).json();
    const rotated = await (await post(`/v1/keys/${second.id}/rotate`, apiKey)).json();
    const graceMs = new Date(rotated.previous_key.expires_at).getTime() - clock.now().getTime();
    expect(graceMs).toBeGreaterThan(86_400_000 - 60_000);
    expect(graceMs).toBeLessThanOrEqual(86_400_000);
    const bad = await post(`/v1/keys/${second.id}/rotate`, apiKey, { grace_period_seconds: 31 * 86_400 });
    expect(bad.status).toBe(400);
  });

  it("never shortens a key's life less than its own expiry allows, never extends it", async () => {
    const { apiKey } = await t.newTenant();
    const soon = new Date(clock.now().getTime() + 60_000).toISOString();
    const key = await (await post("/v1/keys", apiKey, { expires_at: soon })).json();
    const rotated = await (
      await post(`/v1/keys/${key.id}/rotate`, apiKey, { grace_period_seconds: 3600 })
    ).json();
    // The old key keeps its earlier expiry; the new one inherits it.
    expect(rotated.previous_key.expires_at).toBe(soon);
    expect(rotated.expires_at).toBe(soon);
  });

  it("confines key management to the caller's tenant and mode", async () => {
    const a = await t.newTenant();
    const b = await t.newTenant();
    const aKey = await (await post("/v1/keys", a.apiKey, {})).json();
    for (const path of [`/v1/keys/${aKey.id}/revoke`, `/v1/keys/${aKey.id}/rotate`]) {
      expect((await post(path, b.apiKey, {})).status).toBe(404);
    }
    expect((await t.request(`/v1/keys/${aKey.id}`, { key: b.apiKey })).status).toBe(404);
    // A live key of A neither sees nor touches A's test keys, and a test key mints test keys only.
    const live = await t.newKey(a.tenantId, { mode: "live", scopes: customerScopes });
    expect((await t.request(`/v1/keys/${aKey.id}`, { key: live.apiKey })).status).toBe(404);
    expect((await post(`/v1/keys/${aKey.id}/revoke`, live.apiKey)).status).toBe(404);
    const liveList = await (await t.request("/v1/keys", { key: live.apiKey })).json();
    expect(liveList.data.every((k: { mode: string }) => k.mode === "live")).toBe(true);
    const testList = await (await t.request("/v1/keys", { key: a.apiKey })).json();
    expect(testList.data.every((k: { mode: string }) => k.mode === "test")).toBe(true);
    expect(await orders(aKey.api_key)).toBe(200);
    expect((await post("/v1/keys", live.apiKey, {})).status).toBe(201);
    expect((await (await post("/v1/keys", a.apiKey, {})).json()).mode).toBe("test");
  });

  it("records who created, rotated and revoked what, paginated newest first", async () => {
    const { tenantId, apiKey } = await t.newTenant();
    const list = await (await t.request("/v1/keys", { key: apiKey })).json();
    const firstKeyId = list.data[0].id;
    const created = await (await post("/v1/keys", apiKey, { name: "x" })).json();
    const rotated = await (
      await post(`/v1/keys/${created.id}/rotate`, apiKey, { grace_period_seconds: 60 })
    ).json();
    await post(`/v1/keys/${rotated.id}/revoke`, apiKey);
    const page1 = await (await t.request("/v1/audit-log?limit=2", { key: apiKey })).json();
    expect(page1.has_more).toBe(true);
    const page2 = await (
      await t.request(`/v1/audit-log?limit=10&cursor=${page1.next_cursor}`, { key: apiKey })
    ).json();
    expect(page2.has_more).toBe(false);
    const events = [...page1.data, ...page2.data];
    const actor = `api_key:${firstKeyId}`;
    expect(
      events.map((e: { action: string; key_id: string; actor: string }) => [e.action, e.key_id, e.actor]),
    ).toEqual([
      ["revoked", rotated.id, actor],
      ["rotated", created.id, actor],
      ["created", rotated.id, actor],
      ["created", created.id, actor],
      ["created", firstKeyId, "system"],
    ]);
    expect(events[1].details).toMatchObject({ replaced_by: rotated.id, grace_seconds: 60 });
    expect(events[2].details).toMatchObject({ rotated_from: created.id });
    expect(events.every((e: { details: object }) => !JSON.stringify(e.details).includes("cvk_"))).toBe(true);
    const bad = await t.request("/v1/audit-log?cursor=abc", { key: apiKey });
    expect(bad.status).toBe(400);
    // Another tenant's log is empty of these.
    const other = await t.newTenant();
    const otherLog = await (await t.request("/v1/audit-log", { key: other.apiKey })).json();
    expect(otherLog.data.every((e: { key_id: string }) => e.key_id !== created.id)).toBe(true);
    expect(tenantId).not.toBe(other.tenantId);
  });

  it("pages through many keys with a cursor, each key once", async () => {
    const { tenant, apiKey } = await createTenant(t.services.db, { name: "Paged keys" });
    for (let i = 0; i < 6; i++) {
      await createApiKey(t.services.db, { tenantId: tenant.id, mode: "test", scopes: ["orders:read"] });
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10; page++) {
      const query: string = cursor ? `?limit=3&cursor=${cursor}` : "?limit=3";
      const body = await (await t.request(`/v1/keys${query}`, { key: apiKey })).json();
      expect(body.data.length).toBeLessThanOrEqual(3);
      seen.push(...body.data.map((k: { id: string }) => k.id));
      cursor = body.next_cursor;
      expect(body.has_more).toBe(cursor !== null);
      if (!cursor) break;
    }
    expect(seen).toHaveLength(7);
    expect(new Set(seen).size).toBe(7);
    const bad = await t.request("/v1/keys?cursor=bm9wZQ", { key: apiKey });
    expect(bad.status).toBe(400);
  });

  it("caps active keys per tenant and mode", async () => {
    const { tenant, apiKey } = await createTenant(t.services.db, { name: "Many keys" });
    for (let i = 1; i < 100; i++) {
      await createApiKey(t.services.db, { tenantId: tenant.id, mode: "test", scopes: ["orders:read"] });
    }
    const res = await post("/v1/keys", apiKey, {});
    expect(res.status).toBe(409);
    expect((await res.json()).code).toBe("conflict");
  });
});
