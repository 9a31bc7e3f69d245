import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Db } from "../../src/adapters/db/types.ts";
import { createApiKey } from "../../src/domain/keys/store.ts";
import { createTenant } from "../../src/domain/tenants/store.ts";

/**
 * The HTTP contract every deployment of the API keeps, whatever runs it: the Node server or the api-gateway Edge
 * Function on Deno. It talks to a real listening server only through HTTP (plus the database, for what an operator
 * does: creating tenants and keys), and records a transcript of what it saw so the runtimes can be compared.
 */
export interface ContractTarget {
  baseUrl: string;
  /** The deployment's database, for operator actions (tenants, keys, a tenant's rate limit). */
  db: Db;
  /** Makes the deployment deliver what is due now. The Node server's worker needs nothing; on Supabase, pg_cron or
   * the queue trigger invokes the webhook-dispatcher function, which the test does the same way. */
  dispatch(): Promise<void>;
}

/** One observed exchange, reduced to what must be identical across runtimes. */
export interface TranscriptEntry {
  step: string;
  status: number;
  contentType: string;
  code?: string;
}

interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A webhook endpoint on the loopback interface that records every request and answers 204. */
async function startReceiver(): Promise<{
  url: string;
  received: ReceivedWebhook[];
  close(): Promise<void>;
}> {
  const received: ReceivedWebhook[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks).toString("utf8") });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/cellvi-webhooks`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const orderBody = (externalId: string) => ({
  external_id: externalId,
  recipient: { name: "Valentina Gómez", phone: "+573001234567", email: "valentina@example.com" },
  destination: {
    address_line1: "Carrera 7 # 71-21",
    city: "Bogotá",
    country: "CO",
    latitude: 4.6561,
    longitude: -74.0552,
  },
  packages: [{ weight_kg: 1.2 }],
});

/**
 * Registers the contract tests for one running deployment. `target()` is read once the caller's beforeAll has
 * started it; `transcript` receives every recorded exchange, in test order.
 */
export function defineContractSuite(target: () => ContractTarget, transcript: TranscriptEntry[]): void {
  let t: ContractTarget;
  let apiKey: string;
  let tenantId: string;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const state: { orderId?: string; trackingNumber?: string; trackingToken?: string; secret?: string } = {};

  async function call(
    step: string,
    path: string,
    init: { method?: string; json?: unknown; key?: string | null; headers?: Record<string, string> } = {},
  ): Promise<{ response: Response; body: Record<string, unknown> }> {
    const headers = new Headers(init.headers);
    const key = init.key === undefined ? apiKey : init.key;
    if (key) headers.set("authorization", `Bearer ${key}`);
    if (init.json !== undefined) headers.set("content-type", "application/json");
    const response = await fetch(`${t.baseUrl}${path}`, {
      method: init.method ?? (init.json === undefined ? "GET" : "POST"),
      headers,
      ...(init.json !== undefined ? { body: JSON.stringify(init.json) } : {}),
    });
    const text = await response.text();
    const body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    const contentType = (response.headers.get("content-type") ?? "").split(";")[0]!.trim();
    transcript.push({
      step,
      status: response.status,
      contentType,
      ...(contentType === "application/problem+json" ? { code: String(body.code) } : {}),
    });
    return { response, body };
  }

  beforeAll(async () => {
    t = target();
    receiver = await startReceiver();
    const created = await createTenant(t.db, { name: "Contract Tenant", mode: "test" });
    apiKey = created.apiKey;
    tenantId = created.tenant.id;
  });
  afterAll(async () => {
    await receiver?.close();
  });

  it("answers liveness and readiness", async () => {
    expect((await call("healthz", "/healthz", { key: null })).response.status).toBe(200);
    const ready = await call("readyz", "/readyz", { key: null });
    expect(ready.response.status).toBe(200);
    expect(ready.body.status).toBe("ready");
    // Both reach the real services: PostgreSQL (pg) and Redis (ioredis), not an in-memory stand-in.
    expect(ready.body.checks).toMatchObject({
      database: { ok: true, detail: "postgres" },
      rate_limiter: { ok: true, detail: "redis" },
    });
  });

  it("refuses a request without a key: 401 problem+json with a Bearer challenge", async () => {
    const { response, body } = await call("no key", "/v1/orders", { key: null });
    expect(response.status).toBe(401);
    expect(response.headers.get("content-type")).toContain("application/problem+json");
    expect(response.headers.get("www-authenticate")).toContain("Bearer");
    expect(body).toMatchObject({ code: "unauthorized", status: 401 });
    expect(body.request_id).toMatch(/^req_/);
  });

  it("refuses a malformed key and an unknown well-formed key alike (401)", async () => {
    const malformed = await call("malformed key", "/v1/orders", { key: "not-a-cellvi-key" });
    expect(malformed.response.status).toBe(401);
    // A real key of a tenant that does not exist in this database: right format and checksum, unknown hash.
    const other = await createTenant(t.db, { name: "Soon Gone", mode: "test" });
    await t.db.query("delete from tenants where id = $1", [other.tenant.id]);
    const unknown = await call("unknown key", "/v1/orders", { key: other.apiKey });
    expect(unknown.response.status).toBe(401);
    expect(unknown.body.code).toBe("unauthorized");
  });

  it("refuses a key without the operation's scope (403 forbidden)", async () => {
    const { apiKey: readOnly } = await createApiKey(t.db, {
      tenantId,
      mode: "test",
      scopes: ["orders:read"],
    });
    const { response, body } = await call("missing scope", "/v1/orders/create", {
      key: readOnly,
      json: orderBody("SO-SCOPE"),
    });
    expect(response.status).toBe(403);
    expect(body).toMatchObject({ code: "forbidden", required_scope: "orders:write" });
  });

  it("subscribes a webhook endpoint and returns its signing secret once (201)", async () => {
    const { response, body } = await call("subscribe", "/v1/webhooks/subscribe", {
      json: { url: receiver.url, events: ["ORDER_CREATED"], description: "contract receiver" },
    });
    expect(response.status).toBe(201);
    expect(body.url).toBe(receiver.url);
    expect(body.secret).toMatch(/^whsec_/);
    state.secret = String(body.secret);
  });

  it("creates an order (201) and replays the same response for the same Idempotency-Key", async () => {
    const headers = { "idempotency-key": "contract-create-1" };
    const first = await call("create", "/v1/orders/create", { json: orderBody("SO-CONTRACT-1"), headers });
    expect(first.response.status).toBe(201);
    expect(first.body).toMatchObject({ external_id: "SO-CONTRACT-1", status: "CREATED" });
    state.orderId = String(first.body.id);
    state.trackingNumber = String(first.body.tracking_number);
    state.trackingToken = String(first.body.tracking_token);

    const replay = await call("create replay", "/v1/orders/create", {
      json: orderBody("SO-CONTRACT-1"),
      headers,
    });
    expect(replay.response.status).toBe(201);
    expect(replay.body.id).toBe(state.orderId);
  });

  it("rejects an invalid order with validation_failed naming the fields (400)", async () => {
    const { response, body } = await call("create invalid", "/v1/orders/create", {
      json: { external_id: "", packages: [] },
    });
    expect(response.status).toBe(400);
    expect(body.code).toBe("validation_failed");
    expect(Array.isArray(body.errors) && body.errors.length).toBeGreaterThan(0);
    // The API's own wording (src/domain/validation-messages.ts, a process-wide Zod error map) on every runtime.
    expect(body.errors).toContainEqual({ path: "/external_id", message: "must not be empty" });
    // A JSON content type with an empty body: invalid_json that says it is empty (the error handler reads the
    // body text Hono's validator left cached, on Node and on Deno alike).
    const empty = await call("create empty", "/v1/orders/create", {
      method: "POST",
      headers: { "content-type": "application/json" },
    });
    expect(empty.response.status).toBe(400);
    expect(empty.body.code).toBe("invalid_json");
    expect(empty.body.detail).toMatch(/^The request body is empty\./);
  });

  it("reads the order back, and 404s an id it does not have", async () => {
    const found = await call("get", `/v1/orders/${state.orderId}`);
    expect(found.response.status).toBe(200);
    expect(found.body).toMatchObject({ id: state.orderId, tracking_number: state.trackingNumber });
    const missing = await call("get missing", "/v1/orders/00000000-0000-4000-8000-000000000000");
    expect(missing.response.status).toBe(404);
    expect(missing.body.code).toBe("not_found");
  });

  it("tracks the shipment publicly with its token, and answers 404 to a wrong token", async () => {
    const tracked = await call(
      "track",
      `/v1/tracking/${state.trackingNumber}?token=${encodeURIComponent(state.trackingToken ?? "")}`,
      { key: null },
    );
    expect(tracked.response.status).toBe(200);
    expect(tracked.body).toMatchObject({ tracking_number: state.trackingNumber, status: "CREATED" });
    expect(JSON.stringify(tracked.body)).not.toContain("Valentina");
    const wrong = await call("track wrong token", `/v1/tracking/${state.trackingNumber}?token=trk_wrong`, {
      key: null,
    });
    expect(wrong.response.status).toBe(404);
  });

  it("delivers ORDER_CREATED to the endpoint, signed so that standardwebhooks verifies it", async () => {
    const deadline = Date.now() + 45_000;
    const isOurs = (hook: ReceivedWebhook) => hook.body.includes(String(state.orderId));
    while (!receiver.received.some(isOurs)) {
      if (Date.now() > deadline) throw new Error("no webhook delivered within 45 s");
      await t.dispatch();
      if (!receiver.received.some(isOurs)) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const hook = receiver.received.find(isOurs)!;
    const headers = Object.fromEntries(
      Object.entries(hook.headers).map(([name, value]) => [
        name,
        Array.isArray(value) ? value.join(",") : (value ?? ""),
      ]),
    );
    const verified = new Webhook(state.secret ?? "").verify(hook.body, headers) as Record<string, unknown>;
    expect(verified).toMatchObject({
      type: "ORDER_CREATED",
      data: { order_id: state.orderId, external_id: "SO-CONTRACT-1", status: "CREATED" },
    });
    expect(headers["webhook-id"]).toMatch(/^evt_/);
    // A tampered body must not verify with the same headers.
    expect(() =>
      new Webhook(state.secret ?? "").verify(hook.body.replace("CREATED", "DELIVERED"), headers),
    ).toThrow();
    transcript.push({ step: "webhook delivered and verified", status: 200, contentType: "application/json" });
  });

  it("cancels an order with a bodiless POST, and answers a repeated cancel 200 with no new event", async () => {
    const created = await call("create to cancel", "/v1/orders/create", {
      json: orderBody(`CONTRACT-CANCEL-${Date.now()}`),
    });
    expect(created.response.status).toBe(201);
    expect(created.body).toMatchObject({ closed: false, exception: null });
    const cancelled = await call("cancel", `/v1/orders/${String(created.body.id)}/cancel`, {
      method: "POST",
    });
    expect(cancelled.response.status).toBe(200);
    expect(cancelled.body).toMatchObject({
      status: "EXCEPTION",
      closed: true,
      exception: { code: "CANCELLED", message: "Cancelled by the shipper" },
    });
    expect((cancelled.body.events as { type: string }[]).map((event) => event.type)).toEqual(["EXCEPTION"]);
    const again = await call("cancel again", `/v1/orders/${String(created.body.id)}/cancel`, {
      json: { reason: "twice" },
    });
    expect(again.response.status).toBe(200);
    expect(again.body.events).toEqual([]);
  });

  it("throttles a key past its per-minute limit: 429 quota_exceeded with Retry-After", async () => {
    const limited = await createTenant(t.db, { name: "Limited Tenant", mode: "test" });
    await t.db.query("update tenants set rate_limit_per_minute = 3 where id = $1", [limited.tenant.id]);
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < 4; i++) {
      last = await call(`limited request ${i + 1}`, "/v1/orders", { key: limited.apiKey });
      statuses.push(last.response.status);
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(last!.body.code).toBe("quota_exceeded");
    expect(Number(last!.response.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(last!.response.headers.get("ratelimit-policy")).toContain("q=3");
  });

  it("serves the OpenAPI document and the developer portal's guides", async () => {
    const document = await call("openapi.json", "/openapi.json", { key: null });
    expect(document.response.status).toBe(200);
    expect(document.body.openapi).toBe("3.0.3");
    const guide = await fetch(`${t.baseUrl}/developers/en/quickstart`);
    transcript.push({
      step: "portal guide",
      status: guide.status,
      contentType: (guide.headers.get("content-type") ?? "").split(";")[0]!,
    });
    expect(guide.status).toBe(200);
    expect(await guide.text()).toContain("<h1");
  });

  it("answers an unknown path 404 and a wrong method 405 with Allow, as problem+json", async () => {
    const unknown = await call("unknown path", "/v1/nothing-here");
    expect(unknown.response.status).toBe(404);
    const wrongMethod = await call("wrong method", "/v1/orders", { method: "DELETE" });
    expect(wrongMethod.response.status).toBe(405);
    expect(wrongMethod.body.code).toBe("method_not_allowed");
    expect(wrongMethod.response.headers.get("allow")).toContain("GET");
  });
}
