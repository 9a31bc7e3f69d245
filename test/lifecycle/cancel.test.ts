import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, type TestContext } from "../support/app.ts";
import { dbKinds } from "../support/db.ts";
import {
  type Actors,
  createOrder,
  driver,
  eventsOf,
  expectProblem,
  historyOf,
  newActors,
  orderRow,
  positionNear,
  post,
} from "./support.ts";

describe.each(dbKinds)("POST /v1/orders/{id}/cancel on %s", (kind) => {
  let t: TestContext;
  let actors: Actors;
  beforeAll(async () => {
    t = await createTestContext(kind);
    actors = await newActors(t);
  });
  afterAll(() => t.close());

  const cancel = (id: string, json?: unknown, headers: Record<string, string> = {}, key = actors.apiKey) =>
    json === undefined
      ? t.request(`/v1/orders/${id}/cancel`, { method: "POST", key, headers })
      : post(t, key, `/v1/orders/${id}/cancel`, json, headers);

  it("closes a CREATED order for good with the exception CANCELLED and one EXCEPTION event", async () => {
    const { id } = await createOrder(t, actors.apiKey);
    const res = await cancel(id, { reason: "El cliente anuló la compra" });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({
      object: "order_lifecycle",
      order_id: id,
      status: "EXCEPTION",
      closed: true,
      exception: { code: "CANCELLED", message: "El cliente anuló la compra" },
      allowed_transitions: [],
    });
    expect(body.events.map((e: { type: string }) => e.type)).toEqual(["EXCEPTION"]);
    const events = await eventsOf(t.services.db, id);
    expect(events.map((e) => e.type)).toEqual(["ORDER_CREATED", "EXCEPTION"]);
    expect(events[1]!.payload).toMatchObject({
      status: "EXCEPTION",
      closed: true,
      exception: { code: "CANCELLED", message: "El cliente anuló la compra" },
    });
    const history = await historyOf(t.services.db, id);
    expect(history.at(-1)!.actor).toMatch(/^api:/);
    expect((await orderRow(t.services.db, id)).closed_at).not.toBeNull();
  });

  it("shows the order's closed state and exception in GET /v1/orders/{id} and the list, as it moves", async () => {
    const created = await createOrder(t, actors.apiKey);
    // The create response (built in SQL by the shared statement) carries the same fields.
    expect(created).toMatchObject({ closed: false, exception: null });
    const { id } = created;
    const get = async () =>
      (await t.request(`/v1/orders/${id}`, { key: actors.apiKey })).json() as Promise<
        Record<string, unknown>
      >;
    expect(await get()).toMatchObject({ status: "CREATED", closed: false, exception: null });
    expect((await post(t, actors.opsKey, `/v1/orders/${id}/assign-driver`, { driver })).status).toBe(200);
    const absent = { code: "RECIPIENT_ABSENT", message: "Nadie en casa" };
    expect((await post(t, actors.opsKey, `/v1/orders/${id}/exception`, absent)).status).toBe(200);
    expect(await get()).toMatchObject({ status: "EXCEPTION", closed: false, exception: absent });
    expect((await post(t, actors.opsKey, `/v1/orders/${id}/assign-driver`, { driver })).status).toBe(200);
    expect(await get()).toMatchObject({ status: "DRIVER_ASSIGNED", closed: false, exception: null });
    expect((await cancel(id, { reason: "Anulado" })).status).toBe(200);
    const cancelled = {
      status: "EXCEPTION",
      closed: true,
      exception: { code: "CANCELLED", message: "Anulado" },
    };
    expect(await get()).toMatchObject(cancelled);
    const list = await (await t.request("/v1/orders?limit=100", { key: actors.apiKey })).json();
    expect(list.data.find((order: { id: string }) => order.id === id)).toMatchObject(cancelled);
  });

  it("answers a repeated cancel 200 with the order as it is and no new event", async () => {
    const { id } = await createOrder(t, actors.apiKey);
    expect((await cancel(id, { reason: "first" })).status).toBe(200);
    const again = await cancel(id, { reason: "second" });
    expect(again.status).toBe(200);
    const body = await again.json();
    expect(body).toMatchObject({
      closed: true,
      exception: { code: "CANCELLED", message: "first" },
      events: [],
    });
    expect((await eventsOf(t.services.db, id)).map((e) => e.type)).toEqual(["ORDER_CREATED", "EXCEPTION"]);
  });

  it("takes no body at all (curl -X POST), with a default reason", async () => {
    const { id } = await createOrder(t, actors.apiKey);
    const res = await cancel(id);
    expect(res.status).toBe(200);
    expect((await res.json()).exception).toEqual({ code: "CANCELLED", message: "Cancelled by the shipper" });
  });

  it("cancels while a driver is assigned and after a failed attempt", async () => {
    const assigned = await createOrder(t, actors.apiKey);
    expect((await post(t, actors.opsKey, `/v1/orders/${assigned.id}/assign-driver`, { driver })).status).toBe(
      200,
    );
    expect((await cancel(assigned.id, {})).status).toBe(200);

    const failed = await createOrder(t, actors.apiKey);
    expect((await post(t, actors.opsKey, `/v1/orders/${failed.id}/assign-driver`, { driver })).status).toBe(
      200,
    );
    const exception = { code: "RECIPIENT_ABSENT", message: "Nadie en casa" };
    expect((await post(t, actors.opsKey, `/v1/orders/${failed.id}/exception`, exception)).status).toBe(200);
    const res = await cancel(failed.id, {});
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ closed: true, exception: { code: "CANCELLED" } });
  });

  it("refuses with 409 once the driver is near, after delivery and after a close, changing nothing", async () => {
    const near = await createOrder(t, actors.apiKey);
    expect((await post(t, actors.opsKey, `/v1/orders/${near.id}/assign-driver`, { driver })).status).toBe(
      200,
    );
    const positions = { positions: [positionNear(100, 1)] };
    expect((await post(t, actors.opsKey, `/v1/orders/${near.id}/positions`, positions)).status).toBe(200);
    expect((await orderRow(t.services.db, near.id)).status).toBe("NEARBY");
    const nearby = await expectProblem(await cancel(near.id, {}), 409, "conflict");
    expect(nearby).toMatchObject({ current_status: "NEARBY", closed: false });
    expect(nearby.detail).toContain("NEARBY");

    const delivered = await createOrder(t, actors.apiKey);
    expect(
      (await post(t, actors.opsKey, `/v1/orders/${delivered.id}/assign-driver`, { driver })).status,
    ).toBe(200);
    const proof = { received_by: "Portería" };
    expect((await post(t, actors.opsKey, `/v1/orders/${delivered.id}/deliver`, proof)).status).toBe(200);
    const done = await expectProblem(await cancel(delivered.id, {}), 409, "conflict");
    expect(done).toMatchObject({ current_status: "DELIVERED", closed: false });

    const closed = await createOrder(t, actors.apiKey);
    const close = { code: "DAMAGED", message: "Caja mojada", close: true };
    expect((await post(t, actors.opsKey, `/v1/orders/${closed.id}/exception`, close)).status).toBe(200);
    const final = await expectProblem(await cancel(closed.id, {}), 409, "conflict");
    expect(final).toMatchObject({ current_status: "EXCEPTION", closed: true });
    expect(final.detail).toContain("DAMAGED");

    for (const order of [near, delivered, closed]) {
      const events = await eventsOf(t.services.db, order.id);
      expect(
        events.some((e) => (e.payload.exception as { code?: string } | undefined)?.code === "CANCELLED"),
      ).toBe(false);
    }
  });

  it("needs orders:write on the order's own tenant and mode", async () => {
    const { id } = await createOrder(t, actors.apiKey);
    const forbidden = await expectProblem(await cancel(id, {}, {}, actors.opsKey), 403, "forbidden");
    expect(forbidden.required_scope).toBe("orders:write");
    await expectProblem(await t.request(`/v1/orders/${id}/cancel`, { method: "POST" }), 401, "unauthorized");
    const other = await newActors(t);
    await expectProblem(await cancel(id, {}, {}, other.apiKey), 404, "not_found");
    await expectProblem(await cancel("not-a-uuid", {}), 404, "not_found");
    expect((await eventsOf(t.services.db, id)).map((e) => e.type)).toEqual(["ORDER_CREATED"]);
  });

  it("rejects a bad body with a validation problem at the field's path", async () => {
    const { id } = await createOrder(t, actors.apiKey);
    for (const [body, path] of [
      [{ reason: "" }, "/reason"],
      [{ reason: "x".repeat(501) }, "/reason"],
      [{ reason: "ok", why: "typo" }, "/why"],
    ] as const) {
      const problem = await expectProblem(await cancel(id, body), 400, "validation_failed");
      expect((problem.errors as { path: string }[]).map((e) => e.path)).toContain(path);
    }
    expect((await orderRow(t.services.db, id)).closed_at).toBeNull();
  });

  it("replays the first answer for a repeated Idempotency-Key", async () => {
    const { id } = await createOrder(t, actors.apiKey);
    const headers = { "idempotency-key": `cancel-${id}` };
    const first = await cancel(id, { reason: "dup" }, headers);
    expect(first.status).toBe(200);
    const second = await cancel(id, { reason: "dup" }, headers);
    expect(second.status).toBe(200);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expect(await second.json()).toEqual(await first.json());
  });

  it("shows the recipient a cancelled order on the tracking page and in the public view", async () => {
    const order = await createOrder(t, actors.apiKey);
    expect((await cancel(order.id, { reason: "Motivo interno del comercio" })).status).toBe(200);
    const url = `/v1/tracking/${order.tracking_number}?token=${order.tracking_token}`;
    const view = await (await t.request(url)).json();
    expect(view.status).toBe("EXCEPTION");
    expect(view.history.at(-1).description).toBe("Closed: cancelled by the shipper");
    const page = await (await t.request(url, { headers: { accept: "text/html" } })).text();
    expect(page).toContain("Cerrado: cancelado por el remitente");
    // The shipper's reason is for the shipper: never on the public view.
    expect(JSON.stringify(view)).not.toContain("Motivo interno");
    expect(page).not.toContain("Motivo interno");
  });
});
