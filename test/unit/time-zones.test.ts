import { describe, expect, it } from "vitest";
import {
  destinationTimeZone,
  knownDestinationZones,
  regionZoneIndex,
} from "../../src/domain/orders/time-zones.ts";

const fallback = "America/Bogota";

describe("the zone a destination's times are shown in", () => {
  it("is the country's zone for a country with one civil time, whatever the region says", () => {
    expect(destinationTimeZone({ country: "PE", region: "Cusco" }, fallback)).toBe("America/Lima");
    expect(destinationTimeZone({ country: "AR", region: null }, fallback)).toBe(
      "America/Argentina/Buenos_Aires",
    );
    expect(destinationTimeZone({ country: "CO", region: "Antioquia" }, fallback)).toBe("America/Bogota");
  });

  it("follows the region where a country spans several offsets, by name or ISO 3166-2 code", () => {
    for (const region of ["Sonora", "SON", "MX-SON", "sonora", "  SONORA "]) {
      expect(destinationTimeZone({ country: "MX", region }, fallback)).toBe("America/Hermosillo");
    }
    expect(destinationTimeZone({ country: "MX", region: "Baja California" }, fallback)).toBe(
      "America/Tijuana",
    );
    expect(destinationTimeZone({ country: "MX", region: "Baja California Sur" }, fallback)).toBe(
      "America/Mazatlan",
    );
    expect(destinationTimeZone({ country: "MX", region: "Quintana  Roo" }, fallback)).toBe("America/Cancun");
    expect(destinationTimeZone({ country: "MX", region: "Jalisco" }, fallback)).toBe("America/Mexico_City");
    expect(destinationTimeZone({ country: "MX", region: undefined }, fallback)).toBe("America/Mexico_City");
    // Accents do not matter either way.
    expect(destinationTimeZone({ country: "BR", region: "Rondonia" }, fallback)).toBe("America/Porto_Velho");
    expect(destinationTimeZone({ country: "BR", region: "BR-AM" }, fallback)).toBe("America/Manaus");
    expect(destinationTimeZone({ country: "BR", region: "São Paulo" }, fallback)).toBe("America/Sao_Paulo");
    expect(destinationTimeZone({ country: "EC", region: "Galapagos" }, fallback)).toBe("Pacific/Galapagos");
    expect(destinationTimeZone({ country: "ES", region: "Islas Canarias" }, fallback)).toBe(
      "Atlantic/Canary",
    );
  });

  it("does not take one country's region code for another's", () => {
    // MS is Mato Grosso do Sul in Brazil; in Mexico it is nothing (Morelos is MOR).
    expect(destinationTimeZone({ country: "BR", region: "MS" }, fallback)).toBe("America/Campo_Grande");
    expect(destinationTimeZone({ country: "MX", region: "MS" }, fallback)).toBe("America/Mexico_City");
  });

  it("is the fallback for a country it does not place, or none", () => {
    expect(destinationTimeZone({ country: "US", region: "CA" }, "America/New_York")).toBe("America/New_York");
    expect(destinationTimeZone({ country: null, region: "Sonora" }, fallback)).toBe(fallback);
    expect(destinationTimeZone({ country: "", region: null }, fallback)).toBe(fallback);
  });

  it("answers only zones the runtime knows, at offsets that differ where the table says they do", () => {
    for (const zone of knownDestinationZones) {
      expect(() => new Intl.DateTimeFormat("en", { timeZone: zone })).not.toThrow();
    }
    const offset = (zone: string) =>
      new Intl.DateTimeFormat("en", { timeZone: zone, timeZoneName: "shortOffset" })
        .formatToParts(new Date("2026-12-06T12:00:00Z"))
        .find((part) => part.type === "timeZoneName")?.value;
    // In December (no daylight saving in any of these): Tijuana -8, Hermosillo -7, Mexico City -6, Cancún -5.
    expect(offset(destinationTimeZone({ country: "MX", region: "BC" }, fallback))).toBe("GMT-8");
    expect(offset(destinationTimeZone({ country: "MX", region: "SON" }, fallback))).toBe("GMT-7");
    expect(offset(destinationTimeZone({ country: "MX", region: null }, fallback))).toBe("GMT-6");
    expect(offset(destinationTimeZone({ country: "MX", region: "ROO" }, fallback))).toBe("GMT-5");
    // Chile in the southern winter: Santiago -4, Aysén -3 all year (tzdata 2025b), Magallanes -3.
    const july = (zone: string) =>
      new Intl.DateTimeFormat("en", { timeZone: zone, timeZoneName: "shortOffset" })
        .formatToParts(new Date("2027-07-06T12:00:00Z"))
        .find((part) => part.type === "timeZoneName")?.value;
    expect(july(destinationTimeZone({ country: "CL", region: "Los Lagos" }, fallback))).toBe("GMT-4");
    for (const region of ["Aysén", "Aisen", "CL-AI", "Aysén del General Carlos Ibáñez del Campo"]) {
      expect(july(destinationTimeZone({ country: "CL", region }, fallback))).toBe("GMT-3");
    }
    expect(july(destinationTimeZone({ country: "CL", region: "Magallanes" }, fallback))).toBe("GMT-3");
  });

  it("gives a region the country's zone when the runtime's time-zone data lacks the region's", () => {
    // An older runtime (an Edge runtime with older ICU data, say) may not have America/Coyhaique (tzdata 2025b).
    const withoutCoyhaique = regionZoneIndex((zone) => zone !== "America/Coyhaique");
    expect(destinationTimeZone({ country: "CL", region: "Aysén" }, fallback, withoutCoyhaique)).toBe(
      "America/Santiago",
    );
    expect(destinationTimeZone({ country: "CL", region: "Magallanes" }, fallback, withoutCoyhaique)).toBe(
      "America/Punta_Arenas",
    );
    expect(destinationTimeZone({ country: "CL", region: "Aysén" }, fallback)).toBe("America/Coyhaique");
  });
});
