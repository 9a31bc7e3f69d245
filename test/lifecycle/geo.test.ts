import { describe, expect, it } from "vitest";
import { earthMeanRadiusM, type GeoPoint, haversineMeters } from "../../src/domain/orders/lifecycle/geo.ts";

const city = {
  bogota: { latitude: 4.711, longitude: -74.0721 },
  medellin: { latitude: 6.2442, longitude: -75.5812 },
  lima: { latitude: -12.0464, longitude: -77.0428 },
  santiago: { latitude: -33.4489, longitude: -70.6693 },
  buenosAires: { latitude: -34.6037, longitude: -58.3816 },
  montevideo: { latitude: -34.9011, longitude: -56.1645 },
  mexicoCity: { latitude: 19.4326, longitude: -99.1332 },
  guadalajara: { latitude: 20.6597, longitude: -103.3496 },
  saoPaulo: { latitude: -23.5505, longitude: -46.6333 },
  rio: { latitude: -22.9068, longitude: -43.1729 },
  london: { latitude: 51.5074, longitude: -0.1278 },
  paris: { latitude: 48.8566, longitude: 2.3522 },
} satisfies Record<string, GeoPoint>;

describe("haversine distance", () => {
  // Published great-circle distances between city centres (rounded to the km); the tolerance covers which point
  // of each city a source took and the sphere-vs-ellipsoid difference (< 0.5%).
  it.each([
    ["Bogotá", city.bogota, "Medellín", city.medellin, 240],
    ["Lima", city.lima, "Santiago de Chile", city.santiago, 2457],
    ["Buenos Aires", city.buenosAires, "Montevideo", city.montevideo, 206],
    ["Ciudad de México", city.mexicoCity, "Guadalajara", city.guadalajara, 460],
    ["São Paulo", city.saoPaulo, "Rio de Janeiro", city.rio, 358],
    ["London", city.london, "Paris", city.paris, 344],
  ])("%s - %s is about the published distance", (_a, from, _b, to, km) => {
    const meters = haversineMeters(from, to);
    expect(Math.abs(meters / 1000 - km) / km).toBeLessThan(0.015);
  });

  it("is symmetric and zero for the same point", () => {
    expect(haversineMeters(city.lima, city.santiago)).toBeCloseTo(
      haversineMeters(city.santiago, city.lima),
      6,
    );
    expect(haversineMeters(city.bogota, city.bogota)).toBe(0);
  });

  it("matches the sphere's geometry exactly: a degree of latitude, a quarter meridian, the antipode", () => {
    const oneDegree = (Math.PI / 180) * earthMeanRadiusM;
    expect(haversineMeters({ latitude: 0, longitude: 0 }, { latitude: 1, longitude: 0 })).toBeCloseTo(
      oneDegree,
      3,
    );
    expect(haversineMeters({ latitude: 0, longitude: 0 }, { latitude: 90, longitude: 0 })).toBeCloseTo(
      (Math.PI / 2) * earthMeanRadiusM,
      3,
    );
    const antipode = haversineMeters({ latitude: 10, longitude: 20 }, { latitude: -10, longitude: -160 });
    // asin is ill-conditioned next to 1, so half the globe is exact to a metre rather than a millimetre.
    expect(Math.abs(antipode - Math.PI * earthMeanRadiusM)).toBeLessThan(1);
    expect(Number.isNaN(antipode)).toBe(false);
  });

  it("stays accurate over a few metres (where NEARBY is decided)", () => {
    // 0.0001° of latitude is about 11.12 m anywhere.
    const a = { latitude: 4.6561, longitude: -74.0552 };
    const b = { latitude: 4.6562, longitude: -74.0552 };
    expect(haversineMeters(a, b)).toBeCloseTo(11.1195, 3);
  });

  it("crosses the antimeridian the short way", () => {
    const fiji = { latitude: -17.7134, longitude: 178.065 };
    const samoa = { latitude: -13.759, longitude: -172.1046 };
    // Across the date line these are about 1,150 km apart, not the 35,000 km the long way round.
    expect(haversineMeters(fiji, samoa) / 1000).toBeGreaterThan(1000);
    expect(haversineMeters(fiji, samoa) / 1000).toBeLessThan(1300);
  });
});
