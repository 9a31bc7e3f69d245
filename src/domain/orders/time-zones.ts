/**
 * The time zone a shipment's times are shown in to its recipient (the tracking page): the zone of its destination,
 * from the address's country and, where a country spans several offsets, its region. The JSON view keeps UTC; this
 * only chooses how a person reads the times.
 *
 * A country with one civil time maps to it. For the countries of the region that span several, the regions whose
 * offset differs from the capital's are listed by name and by ISO 3166-2 code (`Sonora`, `SON`, `MX-SON`); any other
 * region, or none, gets the capital's zone. A country not listed here (the United States and Canada, say, where
 * the state alone does not settle it) gets the service's fallback, `TRACKING_PAGE_TIME_ZONE`. The page names the
 * offset it used ("Times in GMT-6"), so a reader in an unlisted corner can still tell.
 */

/** The capital's (or most populous region's) zone of each country listed. */
const countryZones: Readonly<Record<string, string>> = {
  AR: "America/Argentina/Buenos_Aires",
  BO: "America/La_Paz",
  BR: "America/Sao_Paulo",
  BZ: "America/Belize",
  CL: "America/Santiago",
  CO: "America/Bogota",
  CR: "America/Costa_Rica",
  CU: "America/Havana",
  DO: "America/Santo_Domingo",
  EC: "America/Guayaquil",
  ES: "Europe/Madrid",
  GT: "America/Guatemala",
  GY: "America/Guyana",
  HN: "America/Tegucigalpa",
  HT: "America/Port-au-Prince",
  JM: "America/Jamaica",
  MX: "America/Mexico_City",
  NI: "America/Managua",
  PA: "America/Panama",
  PE: "America/Lima",
  PR: "America/Puerto_Rico",
  PT: "Europe/Lisbon",
  PY: "America/Asuncion",
  SR: "America/Paramaribo",
  SV: "America/El_Salvador",
  TT: "America/Port_of_Spain",
  UY: "America/Montevideo",
  VE: "America/Caracas",
};

/** Regions whose civil time differs from their country's zone above: [zone, name, ISO 3166-2 codes without the country]. */
const regionTable: Readonly<Record<string, readonly (readonly [string, string, ...string[]])[]>> = {
  MX: [
    ["America/Tijuana", "Baja California", "BCN", "BC"],
    ["America/Mazatlan", "Baja California Sur", "BCS"],
    ["America/Mazatlan", "Sinaloa", "SIN"],
    ["America/Mazatlan", "Nayarit", "NAY"],
    ["America/Hermosillo", "Sonora", "SON"],
    ["America/Chihuahua", "Chihuahua", "CHH", "CHIH"],
    ["America/Cancun", "Quintana Roo", "ROO", "QROO"],
  ],
  BR: [
    ["America/Manaus", "Amazonas", "AM"],
    ["America/Cuiaba", "Mato Grosso", "MT"],
    ["America/Campo_Grande", "Mato Grosso do Sul", "MS"],
    ["America/Porto_Velho", "Rondônia", "RO"],
    ["America/Boa_Vista", "Roraima", "RR"],
    ["America/Rio_Branco", "Acre", "AC"],
  ],
  CL: [
    ["America/Punta_Arenas", "Magallanes y de la Antártica Chilena", "MA", "Magallanes"],
    // UTC-3 all year since 2025 (tzdata 2025b), while Santiago moves to UTC-4 in the southern winter.
    ["America/Coyhaique", "Aysén del General Carlos Ibáñez del Campo", "AI", "Aysén", "Aisén"],
  ],
  EC: [["Pacific/Galapagos", "Galápagos", "W"]],
  ES: [["Atlantic/Canary", "Canarias", "CN", "Islas Canarias", "Canary Islands"]],
};

/** Case, accents and spacing do not matter: "QUINTANA ROO", "quintana  roo" and "Quintana Roo" are one region. */
function normalise(text: string): string {
  return text
    .normalize("NFD")
    .replace(/[\u0300-\u036f]/g, "")
    .trim()
    .replace(/\s+/g, " ")
    .toLowerCase();
}

/** Whether this runtime's time-zone data has `zone` (a newer zone, such as Coyhaique, may be missing from an old one). */
function runtimeKnows(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * Per country: normalised region name or code (bare and with the `CC-` prefix) → zone. A region whose zone the
 * runtime does not know (`knows`) is left out, so it gets its country's zone rather than a page that fails to render.
 */
export function regionZoneIndex(
  knows: (zone: string) => boolean = runtimeKnows,
): Map<string, Map<string, string>> {
  return new Map(
    Object.entries(regionTable).map(([country, regions]) => {
      const byName = new Map<string, string>();
      for (const [zone, ...names] of regions) {
        if (!knows(zone)) continue;
        for (const name of names) {
          byName.set(normalise(name), zone);
          byName.set(normalise(`${country}-${name}`), zone);
        }
      }
      return [country, byName];
    }),
  );
}

const regionZones = regionZoneIndex();

/** Every zone the tables can answer (tests check each is one the runtime knows). */
export const knownDestinationZones: readonly string[] = [
  ...new Set([
    ...Object.values(countryZones),
    ...Object.values(regionTable).flatMap((rows) => rows.map((r) => r[0])),
  ]),
];

/** The zone to show a destination's times in; `fallback` where the country is not one listed. */
export function destinationTimeZone(
  destination: { country: string | null | undefined; region: string | null | undefined },
  fallback: string,
  regions: Map<string, Map<string, string>> = regionZones,
): string {
  const country = destination.country?.trim().toUpperCase();
  if (!country) return fallback;
  const zone = countryZones[country];
  if (!zone) return fallback;
  const region = destination.region ? regions.get(country)?.get(normalise(destination.region)) : undefined;
  return region ?? zone;
}
