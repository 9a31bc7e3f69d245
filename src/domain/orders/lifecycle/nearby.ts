import { type GeoPoint, haversineMeters } from "./geo.ts";
import type { LifecycleState } from "./transitions.ts";

/** One GPS fix from the driver's device. */
export interface PositionFix extends GeoPoint {
  recordedAt: Date;
}

export interface NearbyInput {
  state: LifecycleState;
  /** The destination's coordinates, or null when the order was created without them. */
  destination: GeoPoint | null;
  radiusM: number;
  /** recorded_at of the newest position received so far in this attempt (null: none yet). */
  lastPositionAt: Date | null;
  positions: readonly PositionFix[];
}

/** Why NEARBY did or did not fire for a batch (reported to the caller, so a silent "no" can be explained). */
export const nearbyReasons = [
  "fired",
  "not_on_the_way",
  "already_nearby",
  "no_destination_coordinates",
  "no_new_positions",
  "outside_radius",
] as const;
export type NearbyReason = (typeof nearbyReasons)[number];

export interface NearbyDecision {
  /** Positions newer than the last one received, oldest first: the only ones the decision looked at. */
  fresh: PositionFix[];
  /** How many positions were not newer than the last one received (late uploads, retries). */
  stale: number;
  /** The newest fresh position and its distance to the destination: the order's new last position. */
  latest: { position: PositionFix; distanceM: number | null } | null;
  /** The first fresh position inside the radius, when NEARBY fires now. */
  fire: { position: PositionFix; distanceM: number } | null;
  reason: NearbyReason;
}

/**
 * Decides whether a batch of driver positions fires NEARBY. Pure: the caller supplies the order's state and its
 * last position time, and applies the decision.
 *
 * - Only a driver on the way can be nearby: NEARBY fires from DRIVER_ASSIGNED only. Once the order is NEARBY it
 *   stays so until the attempt ends, so positions that jitter in and out of the radius never fire it twice; a new
 *   attempt (EXCEPTION -> DRIVER_ASSIGNED) can fire it again.
 * - Positions not newer than the last one received are ignored: a late or retried upload of old fixes must not
 *   move the driver backwards or fire on where the driver used to be.
 * - Without destination coordinates there is nothing to be near: NEARBY never fires.
 */
export function decideNearby(input: NearbyInput): NearbyDecision {
  const lastMs = input.lastPositionAt?.getTime() ?? Number.NEGATIVE_INFINITY;
  const fresh = input.positions
    .filter((p) => p.recordedAt.getTime() > lastMs)
    .sort((a, b) => a.recordedAt.getTime() - b.recordedAt.getTime());
  const stale = input.positions.length - fresh.length;
  const newest = fresh[fresh.length - 1];
  const distanceTo = (p: GeoPoint) => (input.destination ? haversineMeters(p, input.destination) : null);
  const latest = newest ? { position: newest, distanceM: distanceTo(newest) } : null;
  const result = (reason: NearbyReason, fire: NearbyDecision["fire"] = null): NearbyDecision => ({
    fresh,
    stale,
    latest,
    fire,
    reason,
  });

  if (input.state === "NEARBY") return result("already_nearby");
  if (input.state !== "DRIVER_ASSIGNED") return result("not_on_the_way");
  if (!input.destination) return result("no_destination_coordinates");
  if (fresh.length === 0) return result("no_new_positions");
  for (const position of fresh) {
    const distanceM = haversineMeters(position, input.destination);
    if (distanceM <= input.radiusM) return result("fired", { position, distanceM });
  }
  return result("outside_radius");
}
