import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setNearbyRadius } from "../../src/domain/orders/lifecycle/settings.ts";
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

describe.each(dbKinds)("NEARBY on %s", (kind) => {
  let t: TestContext;
  let actors: Actors;
  beforeAll(async () => {
    t = await createTestContext(kind);
    actors = await newActors(t);
  });
  afterAll(() => t.close());

  const positions = (orderId: string, list: ReturnType<typeof positionNear>[]) =>
    post(t, actors.opsKey, `/v1/orders/${orderId}/positions`, { positions: list });
  const assign = (orderId: string) =>
    post(t, actors.opsKey, `/v1/orders/${orderId}/assign-driver`, { driver });
  const nearbyEvents = async (orderId: string) =>
    (await eventsOf(t.services.db, orderId)).filter((e) => e.type === "NEARBY");
  const storedPositions = async (orderId: string) => {
    const { rows } = await t.services.db.query<{ n: number }>(
      "select count(*)::int8 as n from order_positions where order_id = $1",
      [orderId],
    );
    return rows[0]!.n;
  };

  it("fires exactly once while positions jitter in and out of the radius", async () => {
    const { id } = await createOrder(t, actors.apiKey);
    await assign(id);
    const far = await positions(id, [positionNear(5000, 100), positionNear(2500, 90)]);
    expect((await far.json()).nearby).toEqual({
      fired: false,
      reason: "outside_radius",
      radius_m: 1000,
      distance_m: 2500,
    });
    // In, out, in, out within one batch, then again in later batches: one NEARBY in all.
    const now = Date.now();
    const batch = await positions(id, [
      positionNear(990, 80, now),
      positionNear(1010, 79, now),
      positionNear(985, 78, now),
      positionNear(1020, 77, now),
    ]);
    expect(batch.status).toBe(200);
    const fired = await batch.json();
    expect(fired.nearby).toMatchObject({ fired: true, reason: "fired", distance_m: 990 });
    expect(fired.status).toBe("NEARBY");
    expect(fired.events).toHaveLength(1);
    for (const meters of [1200, 400, 1500, 30]) {
      const again = await positions(id, [positionNear(meters, 70 - meters / 100)]);
      expect((await again.json()).nearby).toMatchObject({ fired: false, reason: "already_nearby" });
    }
    const events = await nearbyEvents(id);
    expect(events).toHaveLength(1);
    // The payload names the position that fired it, its distance and the attempt, besides the order's ids.
    expect(events[0]!.payload).toMatchObject({
      status: "NEARBY",
      attempt: 1,
      distance_m: 990,
      radius_m: 1000,
      driver,
      position: positionNear(990, 80, now),
    });
    expect(await storedPositions(id)).toBe(10);
  });

  it("never fires before a driver is assigned", async () => {
    const { id } = await createOrder(t, actors.apiKey);
    const problem = await expectProblem(await positions(id, [positionNear(10, 5)]), 409, "conflict");
    expect(problem.current_status).toBe("CREATED");
    expect(await nearbyEvents(id)).toHaveLength(0);
    expect(await storedPositions(id)).toBe(0);
  });

  it("never fires after delivery (nor after a closed exception)", async () => {
    const { id } = await createOrder(t, actors.apiKey);
    await assign(id);
    await positions(id, [positionNear(3000, 60)]);
    expect((await post(t, actors.opsKey, `/v1/orders/${id}/deliver`, { received_by: "Ana" })).status).toBe(
      200,
    );
    const late = await positions(id, [positionNear(10, 1)]);
    const problem = await expectProblem(late, 409, "conflict");
    expect(problem.current_status).toBe("DELIVERED");
    expect(await nearbyEvents(id)).toHaveLength(0);

    const closed = await createOrder(t, actors.apiKey);
    await assign(closed.id);
    await post(t, actors.opsKey, `/v1/orders/${closed.id}/exception`, {
      code: "REFUSED",
      message: "No",
      close: true,
    });
    await expectProblem(await positions(closed.id, [positionNear(10, 1)]), 409, "conflict");
    expect(await nearbyEvents(closed.id)).toHaveLength(0);
  });

  it("ignores positions older than the last one received", async () => {
    const { id } = await createOrder(t, actors.apiKey);
    await assign(id);
    const now = Date.now();
    await positions(id, [positionNear(4000, 10, now)]);
    // A late upload of fixes from when the driver was (supposedly) at the door: older, so ignored.
    const stale = await positions(id, [positionNear(20, 30, now), positionNear(20, 10, now)]);
    const body = await stale.json();
    expect(body.positions).toEqual({ received: 2, considered: 0, ignored_stale: 2 });
    expect(body.nearby).toMatchObject({ fired: false, reason: "no_new_positions" });
    expect(body.last_position.recorded_at).toBe(positionNear(4000, 10, now).recorded_at);
    expect(await nearbyEvents(id)).toHaveLength(0);
    // The trail keeps them; a retried upload of the same fixes adds nothing.
    expect(await storedPositions(id)).toBe(2);
    await positions(id, [positionNear(20, 30, now)]);
    expect(await storedPositions(id)).toBe(2);
  });

  it("never fires for a destination without coordinates, which has no ETA either", async () => {
    const order = await createOrder(t, actors.apiKey, {
      destination: { address_line1: "Calle 10 # 5-20", city: "Cali", country: "CO" },
    });
    await assign(order.id);
    const res = await positions(order.id, [positionNear(0, 5)]);
    const body = await res.json();
    expect(body.nearby).toEqual({
      fired: false,
      reason: "no_destination_coordinates",
      radius_m: 1000,
      distance_m: null,
    });
    expect(body.estimated_delivery_at).toBeNull();
    expect(await nearbyEvents(order.id)).toHaveLength(0);
    const track = await t.request(`/v1/tracking/${order.tracking_number}?token=${order.tracking_token}`);
    expect((await track.json()).estimated_delivery_at).toBeNull();
  });

  it("fires once per attempt: again after a reassignment", async () => {
    const { id } = await createOrder(t, actors.apiKey);
    await assign(id);
    await positions(id, [positionNear(100, 50)]);
    await post(t, actors.opsKey, `/v1/orders/${id}/exception`, {
      code: "FAILED_ATTEMPT",
      message: "Closed gate",
    });
    await assign(id);
    const second = await positions(id, [positionNear(200, 5)]);
    expect((await second.json()).nearby.fired).toBe(true);
    expect((await nearbyEvents(id)).map((e) => e.payload.attempt)).toEqual([1, 2]);
  });

  it("uses the tenant's own radius", async () => {
    const tenant = await newActors(t);
    expect(await setNearbyRadius(t.services.db, tenant.tenantId, 200)).toBe(true);
    const { id } = await createOrder(t, tenant.apiKey);
    await post(t, tenant.opsKey, `/v1/orders/${id}/assign-driver`, { driver });
    const outside = await post(t, tenant.opsKey, `/v1/orders/${id}/positions`, {
      positions: [positionNear(500, 20)],
    });
    expect((await outside.json()).nearby).toMatchObject({ fired: false, radius_m: 200 });
    const inside = await post(t, tenant.opsKey, `/v1/orders/${id}/positions`, {
      positions: [positionNear(150, 10)],
    });
    expect((await inside.json()).nearby).toMatchObject({ fired: true, radius_m: 200 });
    // Out-of-range settings are refused by the code and by the database.
    await expect(setNearbyRadius(t.services.db, tenant.tenantId, 5)).rejects.toThrow(RangeError);
    await expect(
      t.services.db.query(`update tenants set settings = '{"nearby_radius_m": "far"}' where id = $1`, [
        tenant.tenantId,
      ]),
    ).rejects.toThrow();
  });

  it("shows the driver's first name, plate and an ETA on the tracking page once positions arrive", async () => {
    const order = await createOrder(t, actors.apiKey);
    const url = `/v1/tracking/${order.tracking_number}?token=${order.tracking_token}`;
    expect(await (await t.request(url)).json()).toMatchObject({ driver: null, estimated_delivery_at: null });
    await assign(order.id);
    const assigned = await (await t.request(url)).json();
    expect(assigned.driver).toEqual({ first_name: "Carlos", vehicle_plate: "KLM-482" });
    expect(assigned.estimated_delivery_at).toBeNull();
    const now = Date.now();
    await positions(order.id, [positionNear(5000, 0, now)]);
    const moving = await (await t.request(url)).json();
    // 5 km at the default 20 km/h: 15 minutes after the fix was recorded.
    expect(
      Date.parse(moving.estimated_delivery_at) - Date.parse(positionNear(0, 0, now).recorded_at),
    ).toBeCloseTo(15 * 60_000, -3);
    // Never the driver's phone, surname or position on the public page.
    const text = JSON.stringify(moving);
    expect(text).not.toContain(driver.phone);
    expect(text).not.toContain("Restrepo");
    expect(text).not.toContain("latitude");
  });

  it("refuses positions from the future and bad batches with problem+json", async () => {
    const { id } = await createOrder(t, actors.apiKey);
    await assign(id);
    const future = await positions(id, [positionNear(10, -3600)]);
    const problem = await expectProblem(future, 400, "validation_failed");
    expect(problem.errors).toEqual([
      { path: "/positions/0/recorded_at", message: expect.stringContaining("future") },
    ]);
    await expectProblem(await positions(id, []), 400, "validation_failed");
    const tooMany = Array.from({ length: 501 }, (_, i) => positionNear(5000, 600 - i));
    await expectProblem(await positions(id, tooMany), 400, "validation_failed");
    const bad = await post(t, actors.opsKey, `/v1/orders/${id}/positions`, {
      positions: [{ latitude: 91, longitude: -74, recorded_at: "yesterday" }],
    });
    const badBody = await expectProblem(bad, 400, "validation_failed");
    expect((badBody.errors as { path: string }[]).map((e) => e.path).sort()).toEqual([
      "/positions/0/latitude",
      "/positions/0/recorded_at",
    ]);
    expect(await nearbyEvents(id)).toHaveLength(0);
    // 500 is the limit, not an error.
    const max = Array.from({ length: 500 }, (_, i) => positionNear(5000, 600 - i));
    expect((await positions(id, max)).status).toBe(200);
    expect(await storedPositions(id)).toBe(500);
  });
});
