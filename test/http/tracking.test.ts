import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, orderBody, type TestContext } from "../support/app.ts";
import { dbKinds } from "../support/db.ts";

describe.each(dbKinds)("public tracking on %s", (kind) => {
  let t: TestContext;
  let order: { tracking_number: string; tracking_token: string; id: string };
  beforeAll(async () => {
    t = await createTestContext(kind);
    const { apiKey } = await t.newTenant();
    const res = await t.request("/v1/orders/create", {
      method: "POST",
      key: apiKey,
      json: orderBody({
        destination: { address_line1: "Calle Secreta 123", city: "Medellín", country: "CO" },
      }),
    });
    order = await res.json();
  });
  afterAll(() => t.close());

  it("shows the public view with the token as a query parameter or a header, without a key", async () => {
    const byQuery = await t.request(`/v1/tracking/${order.tracking_number}?token=${order.tracking_token}`);
    expect(byQuery.status).toBe(200);
    const view = await byQuery.json();
    expect(view).toMatchObject({
      tracking_number: order.tracking_number,
      status: "CREATED",
      destination_city: "Medellín",
    });
    expect(view.history).toEqual([
      expect.objectContaining({
        status: "CREATED",
        description: expect.any(String),
        occurred_at: expect.any(String),
      }),
    ]);
    const byHeader = await t.request(`/v1/tracking/${order.tracking_number}`, {
      headers: { "x-tracking-token": order.tracking_token },
    });
    expect(byHeader.status).toBe(200);
  });

  it("never reveals the recipient's phone, email or street address", async () => {
    const text = await (
      await t.request(`/v1/tracking/${order.tracking_number}?token=${order.tracking_token}`)
    ).text();
    for (const secret of ["+573001234567", "valentina@example.com", "Calle Secreta", "Valentina", order.id]) {
      expect(text).not.toContain(secret);
    }
  });

  it("answers an unknown number, a wrong token and a missing token with the same 404", async () => {
    const bodies = [];
    for (const path of [
      `/v1/tracking/CV0000000000000?token=${order.tracking_token}`,
      `/v1/tracking/${order.tracking_number}?token=trk_wrongwrongwrongwrongwron`,
      `/v1/tracking/${order.tracking_number}`,
    ]) {
      const res = await t.request(path);
      expect(res.status).toBe(404);
      const { request_id: _ignored, instance: _path, ...body } = await res.json();
      bodies.push(body);
    }
    expect(bodies[1]).toEqual(bodies[0]);
    expect(bodies[2]).toEqual(bodies[0]);
  });

  it("allows any origin (CORS) so shops can embed tracking", async () => {
    const res = await t.request(`/v1/tracking/${order.tracking_number}?token=${order.tracking_token}`, {
      headers: { origin: "https://tienda.example.co" },
    });
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    const preflight = await t.request(`/v1/tracking/${order.tracking_number}`, {
      method: "OPTIONS",
      headers: {
        origin: "https://tienda.example.co",
        "access-control-request-method": "GET",
        "access-control-request-headers": "x-tracking-token",
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-headers")?.toLowerCase()).toContain(
      "x-tracking-token",
    );
    expect(preflight.headers.get("access-control-allow-origin")).toBe("*");
    expect(preflight.headers.get("access-control-allow-methods")).toBe("GET,OPTIONS");
    expect(preflight.headers.get("access-control-max-age")).toBe("86400");
    expect(preflight.headers.get("access-control-allow-credentials")).toBeNull();
    // A widget can read errors too, and the headers that say when to retry.
    const unknown = await t.request("/v1/tracking/CV0000000000XX?token=nope", {
      headers: { origin: "https://tienda.example.co" },
    });
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("access-control-expose-headers")).toContain("Retry-After");
    expect(res.headers.get("access-control-expose-headers")).toContain("RateLimit");
  });
});
