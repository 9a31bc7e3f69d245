import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app.ts";
import { createLogger } from "../../src/bootstrap.ts";
import { loadConfig } from "../../src/config.ts";
import type { App } from "../../src/http/context.ts";
import { createTestContext, orderBody, type TestContext } from "../support/app.ts";
import { dbKinds } from "../support/db.ts";

/** A pino destination that keeps every line, to read what the service would have written to stdout. */
function captureLines(): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n")) if (line.trim()) lines.push(line);
      done();
    },
  });
  return { stream, lines };
}

/** A log line without its time, which differs between two lines written for the same request. */
const withoutTime = (line: string) => line.replace(/,"time":\d+/, "");

/** The request line pino itself would write for the same fields (its time left out, as the compared line's is). */
async function pinoLineFor(entry: Record<string, unknown>): Promise<string> {
  const reference = captureLines();
  createLogger(loadConfig({ LOG_LEVEL: "info" }), reference.stream).info(
    {
      req_id: entry.req_id,
      method: entry.method,
      route: entry.route,
      status: entry.status,
      ms: entry.ms,
      tenant_id: entry.tenant_id,
    },
    "request",
  );
  await new Promise((resolve) => setImmediate(resolve));
  return withoutTime(reference.lines[0]!);
}

describe.each(dbKinds)("structured request logs (%s)", (kind) => {
  let ctx: TestContext;
  let app: App;
  let lines: string[];
  let tenantId: string;
  let apiKey: string;

  beforeAll(async () => {
    ctx = await createTestContext(kind);
    const captured = captureLines();
    lines = captured.lines;
    // The production logger (same redaction, same format), writing into memory.
    const logger = createLogger(loadConfig({ LOG_LEVEL: "info" }), captured.stream);
    app = createApp({ ...ctx.services, logger });
    ({ tenantId, apiKey } = await ctx.newTenant());
  });
  afterAll(() => ctx?.close());

  const send = (path: string, init: RequestInit = {}) => app.request(`http://cellvi.test${path}`, init);
  const requestLines = () =>
    lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((entry) => entry.msg === "request");

  it("writes one JSON line per request with request id, tenant id, route and status", async () => {
    const response = await send("/v1/orders/create", {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
      body: JSON.stringify(orderBody()),
    });
    expect(response.status).toBe(201);
    const order = (await response.json()) as { id: string };
    const requestId = response.headers.get("x-request-id");
    const entry = requestLines().find((line) => line.req_id === requestId);
    expect(entry).toMatchObject({
      level: 30,
      service: "cellvi-connect",
      method: "POST",
      route: "/v1/orders/create",
      status: 201,
      tenant_id: tenantId,
    });
    expect(typeof entry?.ms).toBe("number");
    expect(typeof entry?.time).toBe("number");

    const fetched = await send(`/v1/orders/${order.id}`, { headers: { "x-api-key": apiKey } });
    const getEntry = requestLines().find((line) => line.req_id === fetched.headers.get("x-request-id"));
    // The pattern, not the path: ids stay out of the route field.
    expect(getEntry).toMatchObject({ route: "/v1/orders/:id", status: 200, tenant_id: tenantId });
  });

  it("writes the request line exactly as pino itself would (same fields, same order)", async () => {
    const response = await send("/v1/orders", { headers: { authorization: `Bearer ${apiKey}` } });
    const requestId = response.headers.get("x-request-id");
    const written = lines.find((line) => line.includes(`"req_id":"${requestId}"`));
    expect(written).toBeDefined();
    const entry = JSON.parse(written!) as Record<string, unknown>;
    // The same fields through pino's own serialiser, on a logger built the same way.
    expect(withoutTime(written!)).toBe(await pinoLineFor(entry));
    expect(entry).toMatchObject({ route: "/v1/orders", status: 200, tenant_id: tenantId, level: 30 });

    // Without a tenant (no key), the field is left out, as pino leaves out an undefined value.
    const anonymous = await send("/v1/orders");
    const line = lines.find((l) => l.includes(`"req_id":"${anonymous.headers.get("x-request-id")}"`));
    expect(JSON.parse(line!)).not.toHaveProperty("tenant_id");
    expect(JSON.parse(line!)).toMatchObject({ status: 401, msg: "request" });
  });

  it("writes a valid line, as pino would, whatever request id the caller sent", async () => {
    for (const sent of ['quote"and\\backslash', "trace:abc-1.2_X", "x".repeat(129)]) {
      const response = await send("/v1/whoami", {
        headers: { "x-api-key": apiKey, "x-request-id": sent },
      });
      const requestId = response.headers.get("x-request-id");
      const written = lines.find((line) => line.includes(`"req_id":"${requestId}"`));
      expect(written).toBeDefined();
      const entry = JSON.parse(written!) as Record<string, unknown>;
      expect(withoutTime(written!)).toBe(await pinoLineFor(entry));
    }
  });

  it("never writes a key, a tracking token or a secret, whatever the request carried", async () => {
    const created = await send("/v1/orders/create", {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
      body: JSON.stringify(orderBody({ notes: "whsec_c2VjcmV0LWluLWEtYm9keS1zaG91bGQtbm90LWJlLWxvZ2dlZA" })),
    });
    const order = (await created.json()) as { tracking_number: string; tracking_token: string };
    await send(`/v1/tracking/${order.tracking_number}?token=${order.tracking_token}`);
    await send(`/v1/tracking/${order.tracking_number}`, {
      headers: { "x-tracking-token": order.tracking_token },
    });
    // A wrong key and a malformed one take the error path, which logs too.
    await send("/v1/orders", { headers: { authorization: `Bearer ${apiKey.slice(0, -4)}AAAA` } });
    await send("/v1/orders", {
      headers: { authorization: "Bearer cvk_test_thisIsNotARealKeyButLooksLikeOne" },
    });
    await send("/v1/orders", { headers: { "x-api-key": apiKey } });

    const output = lines.join("\n");
    expect(requestLines().length).toBeGreaterThanOrEqual(5);
    expect(output).not.toContain(apiKey);
    expect(output).not.toContain(apiKey.slice(9, 30));
    expect(output).not.toContain(order.tracking_token);
    expect(output).not.toContain("whsec_");
    expect(output).not.toContain("cvk_");
  });

  it("redacts secrets that code passes to the logger by mistake", async () => {
    const captured = captureLines();
    const logger = createLogger(loadConfig({ LOG_LEVEL: "info" }), captured.stream);
    logger.info(
      {
        authorization: `Bearer ${apiKey}`,
        apiKey,
        secret: "whsec_Zm9vYmFyYmF6",
        token: "trk_abcdef",
        headers: { authorization: `Bearer ${apiKey}`, "x-api-key": apiKey },
        subscription: { secret: "whsec_Zm9vYmFyYmF6", url: "https://example.com/hook" },
      },
      "oops",
    );
    const output = captured.lines.join("\n");
    expect(output).not.toContain(apiKey);
    expect(output).not.toContain("whsec_");
    expect(output).not.toContain("trk_abcdef");
    expect(output).toContain("[redacted]");
    expect(output).toContain("https://example.com/hook");
  });
});
