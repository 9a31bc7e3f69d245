/**
 * Estimated arrival: the straight-line (great-circle) distance from the driver's last position to the destination,
 * covered at a configured average speed (`ETA_AVERAGE_SPEED_KMH`), counted from the moment that position was
 * recorded. The average speed absorbs what a straight line ignores (streets, traffic, stops), so it is set lower
 * than a vehicle's cruising speed. An estimate from a stale position is never earlier than now: a driver who
 * stopped reporting is "due any moment", not "due an hour ago".
 */
export function estimateArrival(input: {
  distanceM: number;
  positionAt: Date;
  averageSpeedKmh: number;
  now: Date;
}): Date {
  const metresPerMs = (input.averageSpeedKmh * 1000) / 3_600_000;
  const travelMs = input.distanceM / metresPerMs;
  return new Date(Math.max(input.positionAt.getTime() + Math.round(travelMs), input.now.getTime()));
}
