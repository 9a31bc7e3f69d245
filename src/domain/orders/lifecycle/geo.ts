/** A point on the Earth in WGS 84 degrees, as GPS devices and geocoders give them. */
export interface GeoPoint {
  latitude: number;
  longitude: number;
}

/**
 * The Earth's mean radius (IUGG, (2a + b) / 3). Haversine treats the Earth as a sphere; against the ellipsoid
 * that is off by at most about 0.5%, far below GPS noise at the distances NEARBY and the ETA care about.
 */
export const earthMeanRadiusM = 6_371_008.8;

const toRadians = (degrees: number) => (degrees * Math.PI) / 180;

/**
 * Great-circle distance in metres (haversine). The haversine form stays accurate for the short distances that
 * matter here (a few metres), where the spherical law of cosines loses precision to rounding.
 */
export function haversineMeters(a: GeoPoint, b: GeoPoint): number {
  const dLat = toRadians(b.latitude - a.latitude);
  const dLon = toRadians(b.longitude - a.longitude);
  const h =
    Math.sin(dLat / 2) ** 2 +
    Math.cos(toRadians(a.latitude)) * Math.cos(toRadians(b.latitude)) * Math.sin(dLon / 2) ** 2;
  // min() guards against h creeping past 1 by rounding for antipodal points (asin of > 1 is NaN).
  return 2 * earthMeanRadiusM * Math.asin(Math.min(1, Math.sqrt(h)));
}
