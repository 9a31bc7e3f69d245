import "../validation-messages.ts";
import { randomUUID } from "node:crypto";
import type { Services } from "../../services.ts";
import type { TenantScope } from "../orders/store.ts";
import { schedulePoll } from "./jobs.ts";
import type { MappingError } from "./mapping.ts";
import { checkBaseUrl } from "./platform-http.ts";
import {
  type ConnectorDefaults,
  DefaultsSchema,
  generatedCredentials,
  generateToken,
  type Platform,
  platformSchemas,
  platforms,
  validatePlatformConfig,
} from "./platforms.ts";
import { type Keyring, requireKeyring } from "./secret-box.ts";
import { type ConnectorRow, insertConnector, sealCredentials } from "./store.ts";

/**
 * Creating a connector, shared by `POST /v1/connectors` and `cli connectors create`: validation, the secrets we
 * generate, sealing, and starting the Magento poller, in one place so both paths make the same connector.
 */

/** The configuration is invalid; `errors` name the fields (`/settings/base_url`, `/credentials/app_key`). */
export class ConnectorConfigError extends Error {
  constructor(readonly errors: MappingError[]) {
    super(errors.map((error) => `${error.path}: ${error.message}`).join("; "));
    this.name = "ConnectorConfigError";
  }
}

type KeyServices = Pick<Services, "config" | "db">;

export function requireConnectorKeyring(services: KeyServices): Keyring {
  return requireKeyring(services, "Connector credentials");
}

/**
 * What schemas cannot check: that base URLs we will call are allowed (not our own network); and what the server
 * decides: the Magento poller starts from the moment polling is turned on.
 */
export function finishPlatformSettings(
  services: KeyServices,
  platform: Platform,
  settings: Record<string, unknown>,
  now: Date,
): Record<string, unknown> {
  const baseUrl = settings.base_url;
  if (typeof baseUrl === "string") {
    const problem = checkBaseUrl(baseUrl, services.config.CONNECTOR_ALLOW_PRIVATE_URLS);
    if (problem) throw new ConnectorConfigError([{ path: "/settings/base_url", message: problem }]);
  }
  if (platform === "magento" && settings.poll_enabled === true && settings.poll_since === undefined) {
    return { ...settings, poll_since: now.toISOString() };
  }
  return settings;
}

export interface NewConnectorInput {
  platform: Platform;
  name?: string | undefined;
  enabled?: boolean | undefined;
  external_id_prefix?: string | undefined;
  defaults?: unknown;
  settings?: unknown;
  credentials?: unknown;
}

export async function createConnectorRecord(
  services: Pick<Services, "config" | "db" | "clock">,
  scope: TenantScope,
  input: NewConnectorInput,
): Promise<{ connector: ConnectorRow; generated: Record<string, string> }> {
  if (!(platforms as readonly string[]).includes(input.platform)) {
    throw new ConnectorConfigError([
      { path: "/platform", message: `must be one of ${platforms.join(", ")}` },
    ]);
  }
  const keyring = requireConnectorKeyring(services);
  const now = services.clock.now();
  const validated = validatePlatformConfig(input.platform, input.settings ?? {}, input.credentials ?? {});
  const defaults = DefaultsSchema.safeParse(input.defaults ?? {});
  const errors: MappingError[] = validated.ok ? [] : [...validated.errors];
  if (!defaults.success) {
    for (const issue of defaults.error.issues)
      errors.push({ path: `/defaults/${issue.path.join("/")}`, message: issue.message });
  }
  const prefix = input.external_id_prefix ?? platformSchemas[input.platform].prefix;
  if (!/^[\x21-\x7e]{0,40}$/.test(prefix)) {
    errors.push({
      path: "/external_id_prefix",
      message: "at most 40 printable ASCII characters without spaces",
    });
  }
  if (!validated.ok || !defaults.success || errors.length > 0) throw new ConnectorConfigError(errors);
  const settings = finishPlatformSettings(services, input.platform, validated.config.settings, now);
  const credentials = { ...validated.config.credentials };
  const generated: Record<string, string> = {};
  for (const name of generatedCredentials[input.platform]) {
    if (credentials[name] === undefined) {
      credentials[name] = generateToken();
      generated[name] = credentials[name];
    }
  }
  const id = randomUUID();
  const connector = await services.db.transaction(async (tx) => {
    const inserted = await insertConnector(tx, scope, {
      id,
      platform: input.platform,
      name: input.name ?? input.platform,
      enabled: input.enabled ?? true,
      settings,
      defaults: defaults.data as ConnectorDefaults,
      externalIdPrefix: prefix,
      credentialsSealed: sealCredentials(keyring, id, credentials),
      credentialNames: Object.keys(credentials).sort(),
    });
    if (inserted.platform === "magento" && inserted.enabled && settings.poll_enabled === true) {
      await schedulePoll(tx, inserted, now);
    }
    return inserted;
  });
  return { connector, generated };
}
