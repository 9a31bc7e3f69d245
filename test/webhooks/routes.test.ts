import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRecordingWebhookSender } from "../../src/adapters/sender/recording.ts";
import { createTestContext, type TestContext } from "../support/app.ts";
import { dbKinds } from "../support/db.ts";
import { verifyWithLibrary } from "./support.ts";

const publicUrl = "https://hooks.example.com/cellvi";

describe.each(dbKinds)("webhook subscription API on %s", (kind) => {
  let t: TestContext;
  const sender = createRecordingWebhookSender({
    hosts: {
      "hooks.example.com": ["93.184.215.14"],
      "other.example.com": ["93.184.215.15"],
      "intranet.example.com": ["10.20.30.40"],
      "rebind.example.com": ["127.0.0.1"],
    },
  });
  let key: string;
  let tenantId: string;

  beforeAll(async () => {
    t = await createTestContext(kind, { webhookSender: sender });
    ({ apiKey: key, tenantId } = await t.newTenant());
  });
  afterAll(() => t.close());

  const subscribe = (json: unknown, apiKey = key) =>
    t.request("/v1/webhooks/subscribe", { method: "POST", key: apiKey, json });

  it("subscribes and shows the secret only once", async () => {
    const res = await subscribe({
      url: publicUrl,
      events: ["DELIVERED", "ORDER_CREATED"],
      description: "ERP",
    });
    expect(res.status).toBe(201);
    const created = await res.json();
    expect(created).toMatchObject({
      object: "webhook_subscription",
      mode: "test",
      url: publicUrl,
      // Canonical order, whatever order they were given in.
      events: ["ORDER_CREATED", "DELIVERED"],
      description: "ERP",
      enabled: true,
      disabled_reason: null,
    });
    expect(created.id).toMatch(/^wh_[0-9a-f]{32}$/);
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(res.headers.get("location")).toBe(`/v1/webhooks/${created.id}`);

    const fetched = await t.request(`/v1/webhooks/${created.id}`, { key });
    expect(fetched.status).toBe(200);
    const body = await fetched.json();
    expect(body.secret).toBeUndefined();
    expect(JSON.stringify(body)).not.toContain(created.secret.slice(6));
  });

  it("also answers POST /v1/webhooks", async () => {
    const res = await t.request("/v1/webhooks", {
      method: "POST",
      key,
      json: { url: publicUrl, events: ["*"] },
    });
    expect(res.status).toBe(201);
    expect((await res.json()).events).toEqual(["*"]);
  });

  it.each([
    [{ url: publicUrl, events: [] }, "/events"],
    [{ url: publicUrl, events: ["SHIPPED"] }, "/events/0"],
    [{ url: publicUrl, events: ["*", "DELIVERED"] }, "/events"],
    [{ url: publicUrl }, "/events"],
    [{ events: ["*"] }, "/url"],
    [{ url: publicUrl, events: ["*"], secret: "whsec_mine" }, "/secret"],
    [{ url: "ftp://hooks.example.com/x", events: ["*"] }, "/url"],
    [{ url: "https://user:pass@hooks.example.com/x", events: ["*"] }, "/url"],
    [{ url: "https://intranet.example.com/x", events: ["*"] }, "/url"],
    [{ url: "https://rebind.example.com/x", events: ["*"] }, "/url"],
    [{ url: "https://169.254.169.254/latest/meta-data", events: ["*"] }, "/url"],
    [{ url: "http://127.0.0.1:9/x", events: ["*"] }, "/url"],
    [{ url: `https://hooks.example.com/${"a".repeat(2100)}`, events: ["*"] }, "/url"],
  ])("refuses %j with a problem naming %s", async (json, path) => {
    const res = await subscribe(json);
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
    const problem = await res.json();
    expect(problem.code).toBe("validation_failed");
    expect(problem.errors.some((e: { path: string }) => e.path.startsWith(path))).toBe(true);
  });

  it("tells a test key aimed at its own machine how to reach it, and no one else", async () => {
    const local = await (await subscribe({ url: "http://127.0.0.1:4567/x", events: ["*"] })).json();
    expect(local.errors).toEqual([{ path: "/url", message: expect.stringContaining("loopback") }]);
    expect(local.detail).toContain("tunnel");
    expect(local.detail).toContain("WEBHOOK_ALLOW_PRIVATE_URLS=true");
    const viaDns = await (await subscribe({ url: "https://intranet.example.com/x", events: ["*"] })).json();
    expect(viaDns.detail).toContain("WEBHOOK_ALLOW_PRIVATE_URLS=true");
    // Cloud metadata is refused whatever the settings: no hint that a setting would open it.
    const metadata = await (await subscribe({ url: "https://169.254.169.254/x", events: ["*"] })).json();
    expect(metadata.detail).not.toContain("WEBHOOK_ALLOW_PRIVATE_URLS");
    const live = await t.newKey(tenantId, { mode: "live" });
    const liveLocal = await (
      await subscribe({ url: "https://intranet.example.com/x", events: ["*"] }, live.apiKey)
    ).json();
    expect(liveLocal.code).toBe("validation_failed");
    expect(liveLocal.detail).not.toContain("WEBHOOK_ALLOW_PRIVATE_URLS");
  });

  it("says a URL without its scheme needs one, instead of naming the host as a scheme", async () => {
    const res = await subscribe({ url: "localhost:4567/webhooks", events: ["*"] });
    const problem = await res.json();
    expect(problem.errors).toEqual([
      { path: "/url", message: "must be an absolute URL starting with https://" },
    ]);
  });

  it("accepts http for test-mode keys but requires https for live keys", async () => {
    expect((await subscribe({ url: "http://hooks.example.com/x", events: ["*"] })).status).toBe(201);
    const live = await t.newKey(tenantId, { mode: "live" });
    const res = await subscribe({ url: "http://hooks.example.com/x", events: ["*"] }, live.apiKey);
    expect(res.status).toBe(400);
    expect((await res.json()).detail).toContain("https");
    const ok = await subscribe({ url: "https://hooks.example.com/x", events: ["*"] }, live.apiKey);
    expect(ok.status).toBe(201);
    expect((await ok.json()).mode).toBe("live");
  });

  it("requires the webhooks:manage scope", async () => {
    const readOnly = await t.newKey(tenantId, { scopes: ["orders:read"] });
    const res = await subscribe({ url: publicUrl, events: ["*"] }, readOnly.apiKey);
    expect(res.status).toBe(403);
    expect((await res.json()).required_scope).toBe("webhooks:manage");
    expect((await t.request("/v1/webhooks", { key: readOnly.apiKey })).status).toBe(403);
    expect((await t.request("/v1/webhooks")).status).toBe(401);
  });

  it("lists with cursor pagination, in the key's mode only", async () => {
    const own = await t.newTenant({ name: "Paging" });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await subscribe({ url: `${publicUrl}/${i}`, events: ["*"] }, own.apiKey);
      ids.push((await res.json()).id);
    }
    const live = await t.newKey(own.tenantId, { mode: "live" });
    await subscribe({ url: "https://hooks.example.com/live", events: ["*"] }, live.apiKey);
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 5; page++) {
      const res: Response = await t.request(`/v1/webhooks?limit=2${cursor ? `&cursor=${cursor}` : ""}`, {
        key: own.apiKey,
      });
      expect(res.status).toBe(200);
      const body = await res.json();
      seen.push(...body.data.map((s: { id: string }) => s.id));
      cursor = body.next_cursor;
      expect(body.has_more).toBe(cursor !== null);
      if (!cursor) break;
    }
    expect(seen).toEqual(ids);
    const bad = await t.request("/v1/webhooks?cursor=bm9wZQ", { key: own.apiKey });
    expect(bad.status).toBe(400);
  });

  it("patches url, events, description and enabled", async () => {
    const created = await (await subscribe({ url: publicUrl, events: ["*"], description: "x" })).json();
    const res = await t.request(`/v1/webhooks/${created.id}`, {
      method: "PATCH",
      key,
      json: { url: "https://other.example.com/new", events: ["EXCEPTION", "NEARBY"], description: null },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      url: "https://other.example.com/new",
      events: ["NEARBY", "EXCEPTION"],
      description: null,
      enabled: true,
    });
    const disabled = await (
      await t.request(`/v1/webhooks/${created.id}`, { method: "PATCH", key, json: { enabled: false } })
    ).json();
    expect(disabled).toMatchObject({ enabled: false, disabled_reason: "manual" });
    expect(disabled.disabled_at).not.toBeNull();
    const enabled = await (
      await t.request(`/v1/webhooks/${created.id}`, { method: "PATCH", key, json: { enabled: true } })
    ).json();
    expect(enabled).toMatchObject({ enabled: true, disabled_reason: null, disabled_at: null });
    const empty = await t.request(`/v1/webhooks/${created.id}`, { method: "PATCH", key, json: {} });
    expect(empty.status).toBe(400);
    const ssrf = await t.request(`/v1/webhooks/${created.id}`, {
      method: "PATCH",
      key,
      json: { url: "https://intranet.example.com/" },
    });
    expect(ssrf.status).toBe(400);
  });

  it("rotates the secret and signs with both for the overlap", async () => {
    const created = await (await subscribe({ url: publicUrl, events: ["*"] })).json();
    const res = await t.request(`/v1/webhooks/${created.id}/rotate-secret`, { method: "POST", key });
    expect(res.status).toBe(200);
    const rotated = await res.json();
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(created.secret);
    const overlapEnd = new Date(rotated.previous_secret_expires_at).getTime();
    expect(overlapEnd - Date.now()).toBeGreaterThan(23 * 3_600_000);
    expect(overlapEnd - Date.now()).toBeLessThanOrEqual(24 * 3_600_000);

    const before = sender.requests.length;
    const test = await t.request(`/v1/webhooks/${created.id}/test`, { method: "POST", key });
    expect(test.status).toBe(200);
    const sent = sender.requests[before]!;
    expect(sent.headers["webhook-signature"]!.split(" ")).toHaveLength(2);
    const request = { headers: sent.headers, body: sent.body };
    expect(verifyWithLibrary(rotated.secret, request)).toMatchObject({ type: "WEBHOOK_TEST" });
    expect(verifyWithLibrary(created.secret, request)).toMatchObject({ type: "WEBHOOK_TEST" });
  });

  it("sends a test event and logs it", async () => {
    const created = await (await subscribe({ url: publicUrl, events: ["DELIVERED"] })).json();
    const before = sender.requests.length;
    const res = await t.request(`/v1/webhooks/${created.id}/test`, { method: "POST", key });
    expect(res.status).toBe(200);
    const result = await res.json();
    expect(result).toMatchObject({
      object: "webhook_test",
      event_type: "WEBHOOK_TEST",
      success: true,
      status_code: 200,
    });
    expect(sender.requests).toHaveLength(before + 1);
    const sent = sender.requests[before]!;
    expect(sent.url).toBe(publicUrl);
    expect(sent.headers["webhook-id"]).toBe(result.event_id);
    const body = verifyWithLibrary(created.secret, { headers: sent.headers, body: sent.body }) as {
      data: { subscription_id: string };
    };
    expect(body.data.subscription_id).toBe(created.id);

    const log = await (await t.request(`/v1/webhooks/${created.id}/deliveries`, { key })).json();
    expect(log.data).toHaveLength(1);
    expect(log.data[0]).toMatchObject({
      id: result.delivery_id,
      event_id: result.event_id,
      event_type: "WEBHOOK_TEST",
      status: "succeeded",
      attempt_count: 1,
      attempts: [{ attempt: 1, outcome: "succeeded", status_code: 200 }],
    });
  });

  it("deletes, after which the id is unknown", async () => {
    const created = await (await subscribe({ url: publicUrl, events: ["*"] })).json();
    expect((await t.request(`/v1/webhooks/${created.id}`, { method: "DELETE", key })).status).toBe(204);
    expect((await t.request(`/v1/webhooks/${created.id}`, { key })).status).toBe(404);
    expect((await t.request(`/v1/webhooks/${created.id}`, { method: "DELETE", key })).status).toBe(404);
  });

  it("keeps every tenant (and mode) to its own subscriptions and deliveries", async () => {
    const created = await (await subscribe({ url: publicUrl, events: ["*"] })).json();
    const test = await (await t.request(`/v1/webhooks/${created.id}/test`, { method: "POST", key })).json();
    const other = await t.newTenant({ name: "Intruder" });
    const sameTenantLive = await t.newKey(tenantId, { mode: "live" });
    for (const intruder of [other.apiKey, sameTenantLive.apiKey]) {
      const attempts: [string, string, unknown?][] = [
        ["GET", `/v1/webhooks/${created.id}`],
        ["PATCH", `/v1/webhooks/${created.id}`, { enabled: false }],
        ["DELETE", `/v1/webhooks/${created.id}`],
        ["POST", `/v1/webhooks/${created.id}/rotate-secret`],
        ["POST", `/v1/webhooks/${created.id}/test`],
        ["GET", `/v1/webhooks/${created.id}/deliveries`],
        ["POST", `/v1/webhooks/deliveries/${test.delivery_id}/retry`],
      ];
      for (const [method, path, json] of attempts) {
        const res = await t.request(path, { method, key: intruder, ...(json ? { json } : {}) });
        expect(res.status, `${method} ${path}`).toBe(404);
        expect((await res.json()).code).toBe("not_found");
      }
      const list = await (await t.request("/v1/webhooks", { key: intruder })).json();
      expect(list.data.map((s: { id: string }) => s.id)).not.toContain(created.id);
    }
    // Untouched.
    const still = await (await t.request(`/v1/webhooks/${created.id}`, { key })).json();
    expect(still.enabled).toBe(true);
  });

  it("answers 404 for unknown ids of any shape", async () => {
    for (const id of [
      "wh_00000000000000000000000000000000",
      "nope",
      "'; drop table webhook_subscriptions; --",
    ]) {
      const res = await t.request(`/v1/webhooks/${encodeURIComponent(id)}`, { key });
      expect(res.status).toBe(404);
    }
    expect((await t.request("/v1/webhooks/deliveries/dlv_nope/retry", { method: "POST", key })).status).toBe(
      404,
    );
  });
});
