import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, type TestContext } from "../support/app.ts";
import { dbKinds } from "../support/db.ts";
import { type Actors, createOrder, eventsOf, expectProblem, newActors, post } from "./support.ts";

describe.each(dbKinds)("sandbox on %s", (kind) => {
  let t: TestContext;
  let actors: Actors;
  beforeAll(async () => {
    t = await createTestContext(kind);
    actors = await newActors(t);
  });
  afterAll(() => t.close());

  const simulate = (orderId: string, body: unknown, key = actors.apiKey) =>
    post(t, key, `/v1/sandbox/orders/${orderId}/simulate`, body);

  it("runs the happy path in one call: DRIVER_ASSIGNED, NEARBY, DELIVERED", async () => {
    const order = await createOrder(t, actors.apiKey);
    const res = await simulate(order.id, { scenario: "happy_path" });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ status: "DELIVERED", attempt: 1, closed: false });
    expect(body.events.map((e: { type: string }) => e.type)).toEqual([
      "DRIVER_ASSIGNED",
      "NEARBY",
      "DELIVERED",
    ]);
    const events = await eventsOf(t.services.db, order.id);
    expect(events.map((e) => e.type)).toEqual(["ORDER_CREATED", "DRIVER_ASSIGNED", "NEARBY", "DELIVERED"]);
    expect(body.events.map((e: { id: string }) => e.id)).toEqual(events.slice(1).map((e) => e.id));
    // Events sort by time as by sequence.
    const times = events.slice(1).map((e) => e.occurred_at.getTime());
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    // Same payloads as real operations produce.
    expect(events[1]!.payload).toMatchObject({
      driver: { id: "drv_sandbox", vehicle_plate: "SBX-123" },
      attempt: 1,
    });
    expect(events[2]!.payload).toMatchObject({
      distance_m: 150,
      radius_m: 1000,
      position: expect.any(Object),
    });
    expect(events[3]!.payload).toMatchObject({ proof: { received_by: "Valentina Gómez", proof_url: null } });
  });

  it("simulates every event, one at a time, through the real transitions", async () => {
    const order = await createOrder(t, actors.apiKey);
    for (const event of ["DRIVER_ASSIGNED", "EXCEPTION", "DRIVER_ASSIGNED", "NEARBY", "DELIVERED"]) {
      const res = await simulate(order.id, { event });
      expect(res.status, event).toBe(200);
      expect((await res.json()).events.map((e: { type: string }) => e.type)).toEqual([event]);
    }
    const events = await eventsOf(t.services.db, order.id);
    expect(events.map((e) => `${e.type}#${e.payload.attempt ?? "-"}`)).toEqual([
      "ORDER_CREATED#-",
      "DRIVER_ASSIGNED#1",
      "EXCEPTION#1",
      "DRIVER_ASSIGNED#2",
      "NEARBY#2",
      "DELIVERED#2",
    ]);
    // DELIVERED is final, in the sandbox too.
    const again = await simulate(order.id, { event: "EXCEPTION" });
    expect((await expectProblem(again, 409, "invalid_transition")).current_status).toBe("DELIVERED");
    await expectProblem(await simulate(order.id, { scenario: "happy_path" }), 409, "invalid_transition");
  });

  it("takes overrides: a driver, a delivery, a closing exception", async () => {
    const order = await createOrder(t, actors.apiKey);
    const driver = { id: "drv_99", name: "Luisa Fernanda Díaz", vehicle_plate: "ABC-123" };
    const assigned = await (await simulate(order.id, { event: "DRIVER_ASSIGNED", driver })).json();
    expect(assigned.driver).toEqual(driver);
    const closed = await simulate(order.id, {
      event: "EXCEPTION",
      exception: { code: "ADDRESS_NOT_FOUND", message: "No such street", close: true },
    });
    expect(await closed.json()).toMatchObject({ closed: true, exception: { code: "ADDRESS_NOT_FOUND" } });
    const other = await createOrder(t, actors.apiKey);
    const delivered = await simulate(other.id, {
      scenario: "happy_path",
      delivery: { received_by: "Vecino del 302", proof_url: "https://example.com/pod.jpg" },
    });
    expect((await delivered.json()).proof).toMatchObject({ received_by: "Vecino del 302" });
  });

  it("refuses live keys with 403, even with every scope", async () => {
    const live = await newActors(t, "live");
    const liveOrder = await createOrder(t, live.apiKey);
    const problem = await expectProblem(
      await simulate(liveOrder.id, { event: "DRIVER_ASSIGNED" }, live.apiKey),
      403,
      "forbidden",
    );
    expect(problem.detail).toContain("test keys");
    expect(await eventsOf(t.services.db, liveOrder.id)).toHaveLength(1);
  });

  it("keeps test and live apart: a test key cannot see a live order, lists and events stay in their mode", async () => {
    const { apiKey: liveKey } = await t.newKey(actors.tenantId, {
      mode: "live",
      scopes: ["orders:write", "orders:read"],
    });
    const liveOrder = await createOrder(t, liveKey);
    const testOrder = await createOrder(t, actors.apiKey);
    await expectProblem(await simulate(liveOrder.id, { scenario: "happy_path" }), 404, "not_found");
    expect(await eventsOf(t.services.db, liveOrder.id)).toHaveLength(1);
    await simulate(testOrder.id, { scenario: "happy_path" });
    for (const event of await eventsOf(t.services.db, testOrder.id)) expect(event.mode).toBe("test");
    for (const event of await eventsOf(t.services.db, liveOrder.id)) expect(event.mode).toBe("live");
    const liveList = await (await t.request("/v1/orders?limit=100", { key: liveKey })).json();
    expect(liveList.data.map((o: { id: string }) => o.id)).toEqual([liveOrder.id]);
    const testList = await (await t.request("/v1/orders?limit=100", { key: actors.apiKey })).json();
    expect(testList.data.map((o: { id: string }) => o.id)).not.toContain(liveOrder.id);
  });

  it("requires orders:write", async () => {
    const { apiKey: readOnly } = await t.newKey(actors.tenantId, { scopes: ["orders:read"] });
    const order = await createOrder(t, actors.apiKey);
    await expectProblem(await simulate(order.id, { event: "DRIVER_ASSIGNED" }, readOnly), 403, "forbidden");
  });

  it("cannot make NEARBY without destination coordinates, and a failing happy path changes nothing", async () => {
    const order = await createOrder(t, actors.apiKey, {
      destination: { address_line1: "Calle 10 # 5-20", city: "Cali", country: "CO" },
    });
    await expectProblem(await simulate(order.id, { scenario: "happy_path" }), 409, "conflict");
    expect(await eventsOf(t.services.db, order.id)).toHaveLength(1);
    await simulate(order.id, { event: "DRIVER_ASSIGNED" });
    const nearby = await expectProblem(await simulate(order.id, { event: "NEARBY" }), 409, "conflict");
    expect(nearby.detail).toContain("coordinates");
    // Delivery without NEARBY is the normal path for such orders.
    expect((await simulate(order.id, { event: "DELIVERED" })).status).toBe(200);
  });

  it("fires NEARBY inside a small tenant radius too", async () => {
    const small = await newActors(t);
    await t.services.db.query(`update tenants set settings = '{"nearby_radius_m": 20}' where id = $1`, [
      small.tenantId,
    ]);
    const order = await createOrder(t, small.apiKey);
    const res = await simulate(order.id, { scenario: "happy_path" }, small.apiKey);
    expect(res.status).toBe(200);
    const nearby = (await eventsOf(t.services.db, order.id)).find((e) => e.type === "NEARBY");
    expect(nearby?.payload).toMatchObject({ distance_m: 10, radius_m: 20 });
  });

  it.each([
    [{}, "/event"],
    [{ event: "NEARBY", scenario: "happy_path" }, "/event"],
    [{ event: "ORDER_CREATED" }, "/event"],
    [{ scenario: "sad_path" }, "/scenario"],
    [{ event: "NEARBY", driver: { id: "d", name: "D" } }, "/driver"],
    [{ scenario: "happy_path", exception: { code: "OTHER", message: "x" } }, "/exception"],
    [{ event: "DRIVER_ASSIGNED", extra: 1 }, "/extra"],
  ])("rejects %j as a validation problem", async (body, path) => {
    const order = await createOrder(t, actors.apiKey);
    const problem = await expectProblem(await simulate(order.id, body), 400, "validation_failed");
    expect((problem.errors as { path: string }[]).map((e) => e.path)).toContain(path);
    expect(await eventsOf(t.services.db, order.id)).toHaveLength(1);
  });
});
