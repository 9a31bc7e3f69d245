import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, type TestContext } from "../support/app.ts";
import { dbKinds } from "../support/db.ts";
import {
  type Actors,
  createOrder,
  driver,
  eventsOf,
  expectProblem,
  newActors,
  positionNear,
  post,
} from "./support.ts";

const operations = [
  ["assign-driver", { driver }],
  ["positions", { positions: [positionNear(100, 1)] }],
  ["deliver", { received_by: "Portería" }],
  ["exception", { code: "DAMAGED", message: "Wet box" }],
] as const;

describe.each(dbKinds)("ops API on %s", (kind) => {
  let t: TestContext;
  let actors: Actors;
  beforeAll(async () => {
    t = await createTestContext(kind);
    actors = await newActors(t);
  });
  afterAll(() => t.close());

  it.each(operations)("%s requires the ops scope (403 without it, 401 without a key)", async (op, body) => {
    const { id } = await createOrder(t, actors.apiKey);
    // The customer key holds every customer scope, but not ops.
    const forbidden = await expectProblem(
      await post(t, actors.apiKey, `/v1/orders/${id}/${op}`, body),
      403,
      "forbidden",
    );
    expect(forbidden.required_scope).toBe("ops");
    const anonymous = await t.request(`/v1/orders/${id}/${op}`, { method: "POST", json: body });
    await expectProblem(anonymous, 401, "unauthorized");
    expect(await eventsOf(t.services.db, id)).toHaveLength(1);
  });

  it.each(operations)("%s only sees the key's own tenant and mode", async (op, body) => {
    const { id } = await createOrder(t, actors.apiKey);
    const other = await newActors(t);
    await expectProblem(await post(t, other.opsKey, `/v1/orders/${id}/${op}`, body), 404, "not_found");
    const { apiKey: liveOps } = await t.newKey(actors.tenantId, { mode: "live", scopes: ["ops"] });
    await expectProblem(await post(t, liveOps, `/v1/orders/${id}/${op}`, body), 404, "not_found");
    await expectProblem(await post(t, actors.opsKey, `/v1/orders/not-a-uuid/${op}`, body), 404, "not_found");
    await expectProblem(
      await post(t, actors.opsKey, `/v1/orders/00000000-0000-4000-8000-000000000000/${op}`, body),
      404,
      "not_found",
    );
    expect(await eventsOf(t.services.db, id)).toHaveLength(1);
  });

  it.each([
    ["assign-driver", {}, ["/driver"]],
    ["assign-driver", { driver: { id: "", name: "A" } }, ["/driver/id"]],
    ["assign-driver", { driver: { ...driver, nickname: "Cali" } }, ["/driver/nickname"]],
    ["assign-driver", { driver: { ...driver, phone: "call me" } }, ["/driver/phone"]],
    ["deliver", { received_by: "" }, ["/received_by"]],
    ["deliver", { received_by: "A", proof_url: "ftp://x/y.jpg" }, ["/proof_url"]],
    ["deliver", { received_by: "A", delivered_at: "2026-11-28 15:00" }, ["/delivered_at"]],
    ["exception", { code: "LOST_IN_SPACE", message: "?" }, ["/code"]],
    ["exception", { code: "OTHER" }, ["/message"]],
    ["exception", { code: "OTHER", message: "x", close: "yes" }, ["/close"]],
    ["positions", { positions: "here" }, ["/positions"]],
  ] as const)("%s rejects %j with a validation problem", async (op, body, paths) => {
    const { id } = await createOrder(t, actors.apiKey);
    const problem = await expectProblem(
      await post(t, actors.opsKey, `/v1/orders/${id}/${op}`, body),
      400,
      "validation_failed",
    );
    const errors = problem.errors as { path: string; message: string }[];
    for (const path of paths) expect(errors.map((e) => e.path)).toContain(path);
    expect(await eventsOf(t.services.db, id)).toHaveLength(1);
  });

  it("rejects malformed JSON, other media types and a missing body as problem+json", async () => {
    const { id } = await createOrder(t, actors.apiKey);
    const path = `/v1/orders/${id}/assign-driver`;
    const headers = { authorization: `Bearer ${actors.opsKey}` };
    await expectProblem(
      await t.request(path, {
        method: "POST",
        headers: { ...headers, "content-type": "application/json" },
        body: "{",
      }),
      400,
      "invalid_json",
    );
    await expectProblem(
      await t.request(path, {
        method: "POST",
        headers: { ...headers, "content-type": "text/plain" },
        body: "x",
      }),
      415,
      "unsupported_media_type",
    );
    const empty = await t.request(path, { method: "POST", headers });
    expect([400, 415]).toContain(empty.status);
    expect(empty.headers.get("content-type")).toContain("application/problem+json");
    await expectProblem(await t.request(path, { method: "GET", headers }), 405, "method_not_allowed");
  });

  it("answers an invalid transition with 409 naming the current state and the way forward", async () => {
    const { id } = await createOrder(t, actors.apiKey);
    const res = await post(t, actors.opsKey, `/v1/orders/${id}/deliver`, { received_by: "Ana" });
    const problem = await expectProblem(res, 409, "invalid_transition");
    expect(problem).toMatchObject({
      current_status: "CREATED",
      closed: false,
      requested: "DELIVERED",
      allowed_transitions: ["DRIVER_ASSIGNED", "EXCEPTION", "CLOSED"],
    });
    expect(problem.detail).toBe(
      "The order is CREATED; it cannot move to DELIVERED. From CREATED it can move to DRIVER_ASSIGNED, EXCEPTION, CLOSED.",
    );
  });

  it("walks a whole delivery and puts the webhook payload of each event into the outbox", async () => {
    const order = await createOrder(t, actors.apiKey);
    const ops = (op: string, body: unknown) => post(t, actors.opsKey, `/v1/orders/${order.id}/${op}`, body);
    expect((await ops("assign-driver", { driver })).status).toBe(200);
    const fix = positionNear(300, 2);
    expect((await ops("positions", { positions: [fix] })).status).toBe(200);
    const deliveredAt = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
    const delivered = await ops("deliver", {
      received_by: "Valentina Gómez",
      delivered_at: deliveredAt.toISOString().replace(".000Z", "Z"),
      proof_url: "https://files.cellvi.com/pod/9f2c1a.jpg",
    });
    const body = await delivered.json();
    expect(body).toMatchObject({
      object: "order_lifecycle",
      order_id: order.id,
      status: "DELIVERED",
      closed: false,
      attempt: 1,
      driver,
      allowed_transitions: [],
      estimated_delivery_at: null,
      proof: {
        received_by: "Valentina Gómez",
        delivered_at: deliveredAt.toISOString(),
        proof_url: "https://files.cellvi.com/pod/9f2c1a.jpg",
      },
    });
    const events = await eventsOf(t.services.db, order.id);
    expect(events.map((e) => e.type)).toEqual(["ORDER_CREATED", "DRIVER_ASSIGNED", "NEARBY", "DELIVERED"]);
    const common = {
      order_id: order.id,
      tracking_number: order.tracking_number,
      external_id: expect.any(String),
      occurred_at: expect.any(String),
    };
    expect(events[1]!.payload).toMatchObject({ ...common, status: "DRIVER_ASSIGNED", driver, attempt: 1 });
    expect(events[2]!.payload).toMatchObject({
      ...common,
      status: "NEARBY",
      distance_m: 300,
      position: fix,
      city: "Bogotá",
    });
    expect(events[3]!.payload).toMatchObject({
      ...common,
      status: "DELIVERED",
      proof: body.proof,
      city: "Bogotá",
    });
    for (const event of events) {
      expect(event.payload.occurred_at).toBe(event.occurred_at.toISOString());
      expect(event.mode).toBe("test");
    }
    // The receiver's name is for the merchant (payload), never on the public tracking page.
    const track = await t.request(`/v1/tracking/${order.tracking_number}?token=${order.tracking_token}`);
    const view = await track.json();
    expect(view.status).toBe("DELIVERED");
    expect(view.history.map((h: { status: string }) => h.status)).toEqual([
      "CREATED",
      "DRIVER_ASSIGNED",
      "NEARBY",
      "DELIVERED",
    ]);
    expect(JSON.stringify(view)).not.toContain("Valentina");
  });

  it("reports exceptions with their code and can close them for good", async () => {
    const order = await createOrder(t, actors.apiKey);
    const ops = (op: string, body: unknown) => post(t, actors.opsKey, `/v1/orders/${order.id}/${op}`, body);
    await ops("assign-driver", { driver });
    const raised = await (
      await ops("exception", { code: "RECIPIENT_ABSENT", message: "Llamar al 3001234567" })
    ).json();
    expect(raised).toMatchObject({
      status: "EXCEPTION",
      closed: false,
      allowed_transitions: ["DRIVER_ASSIGNED", "CLOSED"],
    });
    const closed = await (
      await ops("exception", { code: "REFUSED", message: "Devuelto al remitente", close: true })
    ).json();
    expect(closed).toMatchObject({
      status: "EXCEPTION",
      closed: true,
      allowed_transitions: [],
      exception: { code: "REFUSED", message: "Devuelto al remitente" },
    });
    await expectProblem(await ops("assign-driver", { driver }), 409, "invalid_transition");
    const events = await eventsOf(t.services.db, order.id);
    expect(
      events.slice(2).map((e) => [e.type, e.payload.closed, (e.payload.exception as { code: string }).code]),
    ).toEqual([
      ["EXCEPTION", false, "RECIPIENT_ABSENT"],
      ["EXCEPTION", true, "REFUSED"],
    ]);
    // The driver's free text reaches the merchant, not the public page.
    const view = await (
      await t.request(`/v1/tracking/${order.tracking_number}?token=${order.tracking_token}`)
    ).json();
    expect(JSON.stringify(view)).not.toContain("3001234567");
    expect(view.history.at(-1).description).toBe("Closed: delivery refused");
    // Nobody is on the way any more: no driver on the public page.
    expect(view.driver).toBeNull();
  });

  it("replays a retried request with the same Idempotency-Key instead of failing it", async () => {
    const { id } = await createOrder(t, actors.apiKey);
    const headers = { "idempotency-key": `assign-${id}` };
    const first = await post(t, actors.opsKey, `/v1/orders/${id}/assign-driver`, { driver }, headers);
    const retry = await post(t, actors.opsKey, `/v1/orders/${id}/assign-driver`, { driver }, headers);
    expect(first.status).toBe(200);
    expect(retry.status).toBe(200);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    // Byte for byte, the fields in the same order.
    expect(await retry.text()).toBe(await first.text());
    expect((await eventsOf(t.services.db, id)).map((e) => e.type)).toEqual([
      "ORDER_CREATED",
      "DRIVER_ASSIGNED",
    ]);
    // Without the key, the same request is a 409: the order has moved on.
    await expectProblem(
      await post(t, actors.opsKey, `/v1/orders/${id}/assign-driver`, { driver }),
      409,
      "invalid_transition",
    );
  });

  it("claims the key in the operation's transaction: a failed operation leaves nothing, a running one gets 409", async () => {
    const { id } = await createOrder(t, actors.apiKey);
    const headers = { "idempotency-key": `deliver-${id}` };
    // CREATED -> DELIVERED is not allowed: the failure records nothing under the key.
    await expectProblem(
      await post(t, actors.opsKey, `/v1/orders/${id}/deliver`, { received_by: "Portería" }, headers),
      409,
      "invalid_transition",
    );
    const { rows } = await t.services.db.query("select 1 from idempotency_keys where key = $1", [
      headers["idempotency-key"],
    ]);
    expect(rows).toHaveLength(0);
    if (kind !== "postgres") return;
    // Another transaction running the same key (it holds the key's advisory lock): refused at once.
    const pg = (await import("pg")).default;
    const { idempotencyTryLockSql } = await import("../../src/domain/idempotency/run.ts");
    const first = new pg.Client({ connectionString: t.testDb.url });
    await first.connect();
    try {
      await first.query("begin");
      await first.query(`select ${idempotencyTryLockSql("$1", "$2", "$3")}`, [
        actors.tenantId,
        "test",
        headers["idempotency-key"],
      ]);
      const busy = await post(t, actors.opsKey, `/v1/orders/${id}/assign-driver`, { driver }, headers);
      await expectProblem(busy, 409, "idempotency_in_progress");
      expect(busy.headers.get("retry-after")).toBe("1");
      await first.query("rollback");
    } finally {
      await first.end();
    }
    const assigned = await post(t, actors.opsKey, `/v1/orders/${id}/assign-driver`, { driver }, headers);
    expect(assigned.status).toBe(200);
  });

  it("serialises concurrent requests on one order: one wins, the other gets a 409", async () => {
    const { id } = await createOrder(t, actors.apiKey);
    const results = await Promise.all([
      post(t, actors.opsKey, `/v1/orders/${id}/assign-driver`, { driver }),
      post(t, actors.opsKey, `/v1/orders/${id}/assign-driver`, { driver: { ...driver, id: "drv_8" } }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
    expect((await eventsOf(t.services.db, id)).map((e) => e.type)).toEqual([
      "ORDER_CREATED",
      "DRIVER_ASSIGNED",
    ]);
  });
});
