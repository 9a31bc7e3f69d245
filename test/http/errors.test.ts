import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app.ts";
import { createTestContext, orderBody, type TestContext } from "../support/app.ts";
import { dbKinds } from "../support/db.ts";

async function expectProblem(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  const body = await res.json();
  expect(body).toMatchObject({ status, code });
  expect(body.type).toContain("/developers/errors#");
  expect(body.title).toEqual(expect.any(String));
  expect(body.request_id).toBe(res.headers.get("x-request-id"));
  return body;
}

describe.each(dbKinds)("errors and bad input on %s", (kind) => {
  let t: TestContext;
  let key: string;
  beforeAll(async () => {
    t = await createTestContext(kind);
    key = (await t.newTenant()).apiKey;
  });
  afterAll(() => t.close());

  it("rejects malformed JSON with 400 invalid_json", async () => {
    const res = await t.request("/v1/orders/create", {
      method: "POST",
      key,
      headers: { "content-type": "application/json" },
      body: '{"external_id": "x",',
    });
    await expectProblem(res, 400, "invalid_json");
  });

  it("tells an empty body from malformed JSON (invalid_json either way)", async () => {
    for (const empty of ["", "  \n"]) {
      const res = await t.request("/v1/orders/create", {
        method: "POST",
        key,
        headers: { "content-type": "application/json" },
        body: empty,
      });
      const body = await expectProblem(res, 400, "invalid_json");
      expect(body.detail).toBe(
        "The request body is empty. Send a JSON object (at least {}) with the header Content-Type: application/json.",
      );
    }
    // Routes that read their own body say the same.
    const batch = await t.request("/v1/orders/batch", {
      method: "POST",
      key,
      headers: { "content-type": "application/json" },
      body: "",
    });
    expect((await expectProblem(batch, 400, "invalid_json")).detail).toMatch(/^The request body is empty\./);
  });

  it("says where malformed JSON breaks, without quoting the body", async () => {
    const res = await t.request("/v1/orders/create", {
      method: "POST",
      key,
      headers: { "content-type": "application/json" },
      body: '{\n  "external_id": "whsec_do_not_echo",\n}',
    });
    const body = await expectProblem(res, 400, "invalid_json");
    expect(body.detail).toBe(
      "The request body is not valid JSON: expected double-quoted property name at line 3, column 1.",
    );
    const cut = await t.request("/v1/orders/create", {
      method: "POST",
      key,
      headers: { "content-type": "application/json" },
      body: '{"external_id": "x"',
    });
    expect((await expectProblem(cut, 400, "invalid_json")).detail).toMatch(
      /ends before the JSON is complete/,
    );
  });

  it("says a request without a body has none, before listing the fields", async () => {
    const res = await t.request("/v1/orders/create", { method: "POST", key });
    const body = await expectProblem(res, 400, "validation_failed");
    expect(body.detail).toBe(
      "The request has no body: send a JSON object with the header Content-Type: application/json. 4 fields are invalid.",
    );
    expect(body.errors).toContainEqual({
      path: "/external_id",
      message: "required: expected a string, but the field is missing",
    });
  });

  it("names the Content-Type to send in a 415, and curl -d's form encoding", async () => {
    const form = await t.request("/v1/orders/create", {
      method: "POST",
      key,
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: JSON.stringify(orderBody()),
    });
    expect((await expectProblem(form, 415, "unsupported_media_type")).detail).toBe(
      'This endpoint accepts application/json; the request was sent as application/x-www-form-urlencoded (curl -d sends that unless you add -H "Content-Type: application/json"). Send the body with the header Content-Type: application/json.',
    );
    const none = await t.request("/v1/orders/create", {
      method: "POST",
      key,
      headers: { "content-length": "2" },
      body: new Blob(["{}"]),
    });
    expect((await expectProblem(none, 415, "unsupported_media_type")).detail).toBe(
      "This endpoint accepts application/json, and the request has no Content-Type header. Send the body with the header Content-Type: application/json.",
    );
  });

  it("words field errors for an integrator: what was expected, what came", async () => {
    const res = await t.request("/v1/orders/create", {
      method: "POST",
      key,
      json: {
        external_id: "",
        recipient: { name: "Ana", phone: 3001112233 },
        destination: { address_line1: "x", city: "Bogotá", country: "CO" },
        packages: [{ weight_kg: "1.2" }, { weight_kg: -1 }],
        service_level: "fast",
      },
    });
    const body = await expectProblem(res, 400, "validation_failed");
    expect(body.errors).toEqual([
      { path: "/external_id", message: "must not be empty" },
      { path: "/recipient/phone", message: "expected a string, received the number 3001112233" },
      { path: "/packages/0/weight_kg", message: 'expected a number, received the string "1.2"' },
      { path: "/packages/1/weight_kg", message: "must be greater than 0 (received -1)" },
      {
        path: "/service_level",
        message:
          'must be one of "standard", "express", "same_day", "next_day", "scheduled" (received the string "fast")',
      },
    ]);
    const list = await t.request("/v1/orders?limit=0", { key });
    expect((await expectProblem(list, 400, "validation_failed")).errors).toEqual([
      { path: "/limit", message: "must be at least 1 (received 0)" },
    ]);
  });

  it("rejects a wrong content type with 415", async () => {
    const res = await t.request("/v1/orders/create", {
      method: "POST",
      key,
      headers: { "content-type": "text/plain" },
      body: JSON.stringify(orderBody()),
    });
    await expectProblem(res, 415, "unsupported_media_type");
  });

  it("takes a JSON body typed application/...+json, and answers any other +json type the 415 that names the header", async () => {
    const vendor = await t.request("/v1/orders/create", {
      method: "POST",
      key,
      headers: { "content-type": "application/vnd.example+json; charset=utf-8" },
      body: JSON.stringify(orderBody()),
    });
    expect(vendor.status).toBe(201);
    // Not a JSON media type (only application/... types are): the same 415 as text/plain, not a "no body" 400.
    const text = await t.request("/v1/orders/create", {
      method: "POST",
      key,
      headers: { "content-type": "text/x+json" },
      body: JSON.stringify(orderBody()),
    });
    expect((await expectProblem(text, 415, "unsupported_media_type")).detail).toBe(
      "This endpoint accepts application/json; the request was sent as text/x+json. Send the body with the header Content-Type: application/json.",
    );
  });

  it("rejects a body over 1 MiB with 413", async () => {
    const res = await t.request("/v1/orders/create", {
      method: "POST",
      key,
      json: orderBody({ notes: "x".repeat(1024 * 1024 + 10) }),
    });
    await expectProblem(res, 413, "payload_too_large");
  });

  it("lists every invalid field with its path", async () => {
    const res = await t.request("/v1/orders/create", {
      method: "POST",
      key,
      json: {
        external_id: "",
        recipient: { name: "Ana" },
        destination: { address_line1: "x", city: "Bogotá", country: "Colombia" },
        packages: [],
      },
    });
    const body = await expectProblem(res, 400, "validation_failed");
    const paths = body.errors.map((e: { path: string }) => e.path);
    expect(paths).toEqual(
      expect.arrayContaining(["/external_id", "/recipient/phone", "/destination/country", "/packages"]),
    );
    for (const error of body.errors) expect(error.message).toEqual(expect.any(String));
  });

  it("rejects unknown fields", async () => {
    const res = await t.request("/v1/orders/create", {
      method: "POST",
      key,
      json: orderBody({ colour: "red" }),
    });
    const body = await expectProblem(res, 400, "validation_failed");
    expect(JSON.stringify(body.errors)).toContain("colour");
  });

  it("points an unknown field's error at the field itself, one entry per field", async () => {
    const res = await t.request("/v1/orders/create", {
      method: "POST",
      key,
      json: orderBody({ colour: "red", recipient: { name: "Ana", phone: "+573001112233", nickname: "Ana" } }),
    });
    const body = await expectProblem(res, 400, "validation_failed");
    const paths = (body.errors as { path: string; message: string }[]).map((error) => error.path);
    expect(paths.sort()).toEqual(["/colour", "/recipient/nickname"]);
    expect(body.detail).toBe("2 fields are invalid.");
  });

  it("answers an unknown route with 404 and a wrong method with 405 and Allow", async () => {
    await expectProblem(await t.request("/v1/nothing-here"), 404, "not_found");
    const res = await t.request("/v1/orders/create", { method: "PUT", key });
    await expectProblem(res, 405, "method_not_allowed");
    expect(res.headers.get("allow")).toContain("POST");
    const list = await t.request("/v1/orders", { method: "DELETE", key });
    await expectProblem(list, 405, "method_not_allowed");
    expect(list.headers.get("allow")?.split(", ").sort()).toEqual(["GET", "POST"]);
    const del = await t.request("/v1/tracking/CV123", { method: "DELETE" });
    await expectProblem(del, 405, "method_not_allowed");
  });

  it("names only the literal route's methods on a path that also fits a pattern (/v1/orders/create)", async () => {
    for (const path of ["/v1/orders/create", "/v1/orders/batch"]) {
      const wrong = await t.request(path, { method: "DELETE", key });
      await expectProblem(wrong, 405, "method_not_allowed");
      expect(wrong.headers.get("allow"), `DELETE ${path}`).toBe("POST");
      // GET fits GET /v1/orders/{id} with the id "create": still the wrong method, not "no order with this id".
      const get = await t.request(path, { key });
      const body = await expectProblem(get, 405, "method_not_allowed");
      expect(get.headers.get("allow"), `GET ${path}`).toBe("POST");
      expect(body.detail).toBe("GET is not allowed here; use POST.");
    }
    // Every literal path, not a list of them: GET /v1/webhooks/subscribe fits GET /v1/webhooks/{id} the same way.
    const subscribe = await t.request("/v1/webhooks/subscribe", { key });
    await expectProblem(subscribe, 405, "method_not_allowed");
    expect(subscribe.headers.get("allow")).toBe("POST");
  });

  it("puts X-Request-Id on every response and echoes a sane incoming one", async () => {
    const ok = await t.request("/healthz");
    expect(ok.headers.get("x-request-id")).toMatch(/^req_[0-9a-f]{32}$/);
    const echoed = await t.request("/healthz", { headers: { "x-request-id": "abc-123" } });
    expect(echoed.headers.get("x-request-id")).toBe("abc-123");
    const replaced = await t.request("/healthz", { headers: { "x-request-id": "bad id with spaces" } });
    expect(replaced.headers.get("x-request-id")).toMatch(/^req_/);
  });

  it("turns an unexpected failure into a 500 without internals", async () => {
    // A fresh app (routes cannot be added once one has served a request) with a route that breaks.
    const app = createApp(t.services);
    app.get("/v1/__boom", () => {
      throw new Error("secret internal detail: password=hunter2");
    });
    const res = await app.request("http://cellvi.test/v1/__boom");
    const body = await expectProblem(res, 500, "internal_error");
    expect(JSON.stringify(body)).not.toContain("hunter2");
    expect(JSON.stringify(body)).not.toContain("stack");
  });

  it("sets security headers", async () => {
    const res = await t.request("/healthz");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
  });
});
