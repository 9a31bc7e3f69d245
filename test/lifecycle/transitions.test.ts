import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  canTransition,
  type LifecycleState,
  lifecycleStates,
} from "../../src/domain/orders/lifecycle/transitions.ts";
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

type Target = Exclude<LifecycleState, "CREATED">;
const targets: Target[] = ["DRIVER_ASSIGNED", "NEARBY", "DELIVERED", "EXCEPTION", "CLOSED"];

/** The event the move into each state produces. */
const eventOf: Record<Target, string> = {
  DRIVER_ASSIGNED: "DRIVER_ASSIGNED",
  NEARBY: "NEARBY",
  DELIVERED: "DELIVERED",
  EXCEPTION: "EXCEPTION",
  CLOSED: "EXCEPTION",
};

describe.each(dbKinds)("lifecycle transitions on %s", (kind) => {
  let t: TestContext;
  let actors: Actors;
  beforeAll(async () => {
    t = await createTestContext(kind);
    actors = await newActors(t);
  });
  afterAll(() => t.close());

  /**
   * Requests the move to `target` the way CELLVI's side would: the ops API for all but NEARBY, which no ops call
   * requests directly (positions fire it), so the sandbox's NEARBY step stands in for it.
   */
  function move(orderId: string, target: Target): Promise<Response> {
    const { opsKey, apiKey } = actors;
    switch (target) {
      case "DRIVER_ASSIGNED":
        return post(t, opsKey, `/v1/orders/${orderId}/assign-driver`, { driver });
      case "NEARBY":
        return post(t, apiKey, `/v1/sandbox/orders/${orderId}/simulate`, { event: "NEARBY" });
      case "DELIVERED":
        return post(t, opsKey, `/v1/orders/${orderId}/deliver`, { received_by: "Portería" });
      case "EXCEPTION":
        return post(t, opsKey, `/v1/orders/${orderId}/exception`, {
          code: "RECIPIENT_ABSENT",
          message: "No one",
        });
      case "CLOSED":
        return post(t, opsKey, `/v1/orders/${orderId}/exception`, {
          code: "REFUSED",
          message: "Refused at the door",
          close: true,
        });
    }
  }

  /** A fresh order brought to `state` through allowed moves only. */
  async function orderIn(state: LifecycleState): Promise<string> {
    const { id } = await createOrder(t, actors.apiKey);
    const path: Record<LifecycleState, Target[]> = {
      CREATED: [],
      DRIVER_ASSIGNED: ["DRIVER_ASSIGNED"],
      NEARBY: ["DRIVER_ASSIGNED", "NEARBY"],
      DELIVERED: ["DRIVER_ASSIGNED", "DELIVERED"],
      EXCEPTION: ["DRIVER_ASSIGNED", "EXCEPTION"],
      CLOSED: ["DRIVER_ASSIGNED", "CLOSED"],
    };
    for (const step of path[state]) expect((await move(id, step)).status).toBe(200);
    return id;
  }

  const cases = lifecycleStates.flatMap((from) => targets.map((to) => [from, to] as const));

  it.each(cases)("%s -> %s", async (from, to) => {
    const orderId = await orderIn(from);
    const eventsBefore = await eventsOf(t.services.db, orderId);
    const rowBefore = await orderRow(t.services.db, orderId);
    const res = await move(orderId, to);
    const eventsAfter = await eventsOf(t.services.db, orderId);

    if (canTransition(from, to)) {
      expect(res.status).toBe(200);
      const body = await res.json();
      expect(body.status).toBe(to === "CLOSED" ? "EXCEPTION" : to);
      expect(body.closed).toBe(to === "CLOSED");
      // Exactly one new event, of the right type, reported by the response too.
      expect(eventsAfter).toHaveLength(eventsBefore.length + 1);
      const event = eventsAfter.at(-1)!;
      expect(event.type).toBe(eventOf[to]);
      expect(body.events).toEqual([{ id: event.id, type: event.type, occurred_at: expect.any(String) }]);
      const attempt = to === "DRIVER_ASSIGNED" ? rowBefore.attempt + 1 : rowBefore.attempt;
      expect(event.payload.attempt).toBe(attempt);
      expect(body.attempt).toBe(attempt);
      if (to === "EXCEPTION" || to === "CLOSED") expect(event.payload.closed).toBe(to === "CLOSED");
    } else {
      const problem = await expectProblem(res, 409, "invalid_transition");
      const current = from === "CLOSED" ? "EXCEPTION" : from;
      expect(problem.current_status).toBe(current);
      expect(problem.closed).toBe(from === "CLOSED");
      expect(problem.requested).toBe(to);
      expect(problem.detail).toContain(current);
      // Nothing changed: no event, no history, the same row.
      expect(eventsAfter).toEqual(eventsBefore);
      expect(await orderRow(t.services.db, orderId)).toEqual(rowBefore);
    }
    // One history row per event, always.
    expect(await historyOf(t.services.db, orderId)).toHaveLength(eventsAfter.length);
  });

  it("agrees with the database's own transition table", async () => {
    for (const from of lifecycleStates) {
      for (const to of lifecycleStates) {
        const { rows } = await t.services.db.query<{ ok: boolean }>(
          "select cellvi_transition_allowed($1, $2) as ok",
          [from, to],
        );
        expect(rows[0]!.ok, `${from} -> ${to}`).toBe(canTransition(from, to));
      }
    }
  });

  it("counts attempts: EXCEPTION -> DRIVER_ASSIGNED starts attempt 2 and NEARBY can fire again", async () => {
    const orderId = await orderIn("NEARBY");
    expect((await move(orderId, "EXCEPTION")).status).toBe(200);
    const reassigned = await move(orderId, "DRIVER_ASSIGNED");
    expect((await reassigned.json()).attempt).toBe(2);
    const positions = await post(t, actors.opsKey, `/v1/orders/${orderId}/positions`, {
      positions: [positionNear(50, 0)],
    });
    expect((await positions.json()).nearby.fired).toBe(true);
    const delivered = await move(orderId, "DELIVERED");
    expect(delivered.status).toBe(200);
    const types = (await eventsOf(t.services.db, orderId)).map(
      (e) => `${e.type}#${e.payload.attempt ?? "-"}`,
    );
    expect(types).toEqual([
      "ORDER_CREATED#-",
      "DRIVER_ASSIGNED#1",
      "NEARBY#1",
      "EXCEPTION#1",
      "DRIVER_ASSIGNED#2",
      "NEARBY#2",
      "DELIVERED#2",
    ]);
  });

  it("records each transition's history with time, description, city and actor", async () => {
    const orderId = await orderIn("DELIVERED");
    const history = await historyOf(t.services.db, orderId);
    expect(history.map((h) => h.status)).toEqual(["CREATED", "DRIVER_ASSIGNED", "DELIVERED"]);
    expect(history[1]!.actor).toMatch(/^ops:/);
    expect(history[2]!.city).toBe("Bogotá");
    const { rows } = await t.services.db.query<{ description: string; occurred_at: Date }>(
      "select description, occurred_at from order_status_history where order_id = $1 order by id",
      [orderId],
    );
    for (const row of rows) {
      expect(row.description.length).toBeGreaterThan(0);
      expect(row.occurred_at).toBeInstanceOf(Date);
    }
  });
});
