// Loaded through commands.ts (which spreads `lifecycleCommands` into the registry): CliError is only used at run
// time, so the import cycle between the two modules is harmless.

import { nearbyRadiusBounds, nearbyRadiusFor, setNearbyRadius } from "../domain/orders/lifecycle/settings.ts";
import { getTenant } from "../domain/tenants/store.ts";
import { type CliCommand, CliError } from "./commands.ts";

export const lifecycleCommands: CliCommand[] = [
  {
    name: "tenants nearby-radius",
    summary: "Show or set a tenant's NEARBY radius in metres (--default: follow NEARBY_RADIUS_M)",
    usage: "tenants nearby-radius --tenant ID [--meters N | --default] [--json]",
    options: {
      json: { type: "boolean" },
      tenant: { type: "string" },
      meters: { type: "string" },
      default: { type: "boolean" },
    },
    async run(services, args) {
      const tenantId = typeof args.values.tenant === "string" ? args.values.tenant.trim() : "";
      if (!tenantId) throw new CliError("--tenant is required");
      const tenant = await getTenant(services.db, tenantId);
      if (!tenant) throw new CliError(`No tenant with id ${tenantId}`);
      const metersText = typeof args.values.meters === "string" ? args.values.meters.trim() : undefined;
      if (metersText !== undefined && args.values.default === true) {
        throw new CliError("Give --meters N or --default, not both");
      }
      if (metersText !== undefined) {
        const meters = Number(metersText);
        if (
          !/^\d+(\.\d+)?$/.test(metersText) ||
          meters < nearbyRadiusBounds.min ||
          meters > nearbyRadiusBounds.max
        ) {
          throw new CliError(
            `--meters must be a number from ${nearbyRadiusBounds.min} to ${nearbyRadiusBounds.max}`,
          );
        }
        await setNearbyRadius(services.db, tenantId, meters);
      } else if (args.values.default === true) {
        await setNearbyRadius(services.db, tenantId, null);
      }
      const serviceDefault = services.config.NEARBY_RADIUS_M;
      const radius = await nearbyRadiusFor(services.db, tenantId, serviceDefault);
      const own = (await getTenant(services.db, tenantId))?.settings.nearby_radius_m !== undefined;
      return {
        json: { tenant: { id: tenantId }, nearby_radius_m: radius, source: own ? "tenant" : "default" },
        text: `NEARBY radius of ${tenant.name}: ${radius} m (${own ? "its own setting" : "the service default"}).`,
      };
    },
  },
];
