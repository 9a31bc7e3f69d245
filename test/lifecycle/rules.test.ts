import { describe, expect, it } from "vitest";
import { estimateArrival } from "../../src/domain/orders/lifecycle/eta.ts";
import { decideNearby, type PositionFix } from "../../src/domain/orders/lifecycle/nearby.ts";
import {
  canTransition,
  lifecycleStateOf,
  lifecycleStates,
  statusOf,
  transitionTable,
} from "../../src/domain/orders/lifecycle/transitions.ts";

const destination = { latitude: 4.6561, longitude: -74.0552 };
/** A fix `metersNorth` metres north of the destination, `second` seconds after a fixed start. */
function fix(metersNorth: number, second: number): PositionFix {
  return {
    latitude: destination.latitude + metersNorth / 111_195,
    longitude: destination.longitude,
    recordedAt: new Date(Date.UTC(2026, 10, 28, 15, 0, second)),
  };
}

describe("transition table", () => {
  it("allows exactly the documented transitions", () => {
    const allowed = lifecycleStates.flatMap((from) =>
      lifecycleStates.filter((to) => canTransition(from, to)).map((to) => `${from}->${to}`),
    );
    expect(allowed.sort()).toEqual(
      [
        "CREATED->DRIVER_ASSIGNED",
        "CREATED->EXCEPTION",
        "CREATED->CLOSED",
        "DRIVER_ASSIGNED->NEARBY",
        "DRIVER_ASSIGNED->DELIVERED",
        "DRIVER_ASSIGNED->EXCEPTION",
        "DRIVER_ASSIGNED->CLOSED",
        "NEARBY->DELIVERED",
        "NEARBY->EXCEPTION",
        "NEARBY->CLOSED",
        "EXCEPTION->DRIVER_ASSIGNED",
        "EXCEPTION->CLOSED",
      ].sort(),
    );
  });

  it("has final states and no self-transitions", () => {
    expect(transitionTable.DELIVERED).toEqual([]);
    expect(transitionTable.CLOSED).toEqual([]);
    for (const state of lifecycleStates) expect(canTransition(state, state)).toBe(false);
    for (const state of lifecycleStates) expect(canTransition(state, "CREATED")).toBe(false);
  });

  it("stores CLOSED as a closed EXCEPTION", () => {
    expect(statusOf("CLOSED")).toBe("EXCEPTION");
    expect(lifecycleStateOf("EXCEPTION", true)).toBe("CLOSED");
    expect(lifecycleStateOf("EXCEPTION", false)).toBe("EXCEPTION");
  });
});

describe("NEARBY decision", () => {
  const base = { state: "DRIVER_ASSIGNED" as const, destination, radiusM: 1000, lastPositionAt: null };

  it("fires on the first new position inside the radius", () => {
    const decision = decideNearby({ ...base, positions: [fix(3000, 1), fix(900, 2), fix(100, 3)] });
    expect(decision.reason).toBe("fired");
    expect(decision.fire?.position.recordedAt).toEqual(fix(900, 2).recordedAt);
    expect(decision.fire?.distanceM).toBeCloseTo(900, 0);
    expect(decision.latest?.position.recordedAt).toEqual(fix(100, 3).recordedAt);
  });

  it("sorts a batch by recorded_at: upload order does not matter", () => {
    const decision = decideNearby({ ...base, positions: [fix(100, 3), fix(3000, 1), fix(900, 2)] });
    expect(decision.fire?.position.recordedAt).toEqual(fix(900, 2).recordedAt);
    expect(decision.fresh.map((p) => p.recordedAt.getUTCSeconds())).toEqual([1, 2, 3]);
  });

  it("fires at exactly the radius, not a metre beyond", () => {
    expect(decideNearby({ ...base, positions: [fix(1000.5, 1)] }).reason).toBe("outside_radius");
    expect(decideNearby({ ...base, positions: [fix(999.5, 1)] }).reason).toBe("fired");
  });

  it("ignores positions not newer than the last one received", () => {
    const decision = decideNearby({
      ...base,
      lastPositionAt: fix(0, 10).recordedAt,
      positions: [fix(50, 5), fix(50, 10), fix(5000, 11)],
    });
    expect(decision.stale).toBe(2);
    expect(decision.fresh).toHaveLength(1);
    expect(decision.reason).toBe("outside_radius");
    expect(decision.latest?.distanceM).toBeCloseTo(5000, 0);
  });

  it("reports no new positions when all are stale", () => {
    const decision = decideNearby({
      ...base,
      lastPositionAt: fix(0, 10).recordedAt,
      positions: [fix(10, 9)],
    });
    expect(decision.reason).toBe("no_new_positions");
    expect(decision.latest).toBeNull();
  });

  it("never fires once NEARBY, before assignment or after the attempt ended", () => {
    for (const state of ["NEARBY", "CREATED", "DELIVERED", "EXCEPTION", "CLOSED"] as const) {
      const decision = decideNearby({ ...base, state, positions: [fix(10, 1)] });
      expect(decision.fire).toBeNull();
      expect(decision.reason).toBe(state === "NEARBY" ? "already_nearby" : "not_on_the_way");
    }
  });

  it("never fires for a destination without coordinates, but still tracks the newest position", () => {
    const decision = decideNearby({ ...base, destination: null, positions: [fix(0, 1)] });
    expect(decision.reason).toBe("no_destination_coordinates");
    expect(decision.fire).toBeNull();
    expect(decision.latest?.distanceM).toBeNull();
  });

  it("uses the given radius", () => {
    expect(decideNearby({ ...base, radiusM: 200, positions: [fix(300, 1)] }).reason).toBe("outside_radius");
    expect(decideNearby({ ...base, radiusM: 500, positions: [fix(300, 1)] }).reason).toBe("fired");
  });
});

describe("ETA", () => {
  const positionAt = new Date("2026-11-28T15:00:00.000Z");

  it("is the distance over the average speed, from when the position was recorded", () => {
    // 10 km at 20 km/h = 30 minutes.
    const eta = estimateArrival({ distanceM: 10_000, positionAt, averageSpeedKmh: 20, now: positionAt });
    expect(eta.toISOString()).toBe("2026-11-28T15:30:00.000Z");
    const fast = estimateArrival({ distanceM: 10_000, positionAt, averageSpeedKmh: 40, now: positionAt });
    expect(fast.toISOString()).toBe("2026-11-28T15:15:00.000Z");
  });

  it("is never earlier than now when the position is stale", () => {
    const now = new Date("2026-11-28T17:00:00.000Z");
    const eta = estimateArrival({ distanceM: 1000, positionAt, averageSpeedKmh: 20, now });
    expect(eta.toISOString()).toBe(now.toISOString());
  });
});
