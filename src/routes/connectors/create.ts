import { randomUUID } from "node:crypto";
import { createRoute } from "@hono/zod-openapi";
import { getPollJob, schedulePoll } from "../../domain/connectors/jobs.ts";
import { checkBaseUrl } from "../../domain/connectors/platform-http.ts";
import {
  generatedCredentials,
  generateToken,
  type Platform,
  platformSchemas,
  validatePlatformConfig,
} from "../../domain/connectors/platforms.ts";
import { connectorKeyring, type Keyring } from "../../domain/connectors/secret-box.ts";
import { insertConnector, sealCredentials } from "../../domain/connectors/store.ts";
import { authenticate } from "../../http/auth.ts";
import type { App } from "../../http/context.ts";
import { ApiError, errorResponses, type FieldError } from "../../http/problem.ts";
import type { Services } from "../../services.ts";
import { CreateConnectorSchema, CreatedConnectorSchema, toConnector } from "./schemas.ts";

/** The keyring, or the 503 that explains which setting is missing. */
export function requireKeyring(services: Services): Keyring {
  const keyring = connectorKeyring(services.config, services.db.kind);
  if (!keyring) {
    throw new ApiError(
      "service_unavailable",
      "Connector credentials cannot be stored: this deployment has no CONNECTOR_ENCRYPTION_KEY (required with DATABASE_URL). Ask the operator to set it.",
    );
  }
  return keyring;
}

/**
 * Checks what validation by schema cannot: that the base URLs we will call are allowed (not our own network), and
 * fills what the server decides (the Magento poller's starting time). Throws validation_failed.
 */
export function finishPlatformSettings(
  services: Services,
  platform: Platform,
  settings: Record<string, unknown>,
  now: Date,
): Record<string, unknown> {
  const errors: FieldError[] = [];
  const baseUrl = settings.base_url;
  if (typeof baseUrl === "string") {
    const problem = checkBaseUrl(baseUrl, services.config.CONNECTOR_ALLOW_PRIVATE_URLS);
    if (problem) errors.push({ path: "/settings/base_url", message: problem });
  }
  if (errors.length > 0)
    throw new ApiError("validation_failed", "The connector settings are invalid.", { errors });
  if (platform === "magento" && settings.poll_enabled === true && settings.poll_since === undefined) {
    return { ...settings, poll_since: now.toISOString() };
  }
  return settings;
}

export const createConnectorRoute = createRoute({
  method: "post",
  path: "/v1/connectors",
  tags: ["Connectors"],
  operationId: "createConnector",
  summary: "Create a connector",
  description:
    "Connects a shop (Shopify, WooCommerce, VTEX, Magento) so its orders become shipments by themselves. The response has the `inbound_url` to paste into the platform and `setup` steps; secrets we generate for you are in `generated_credentials`, shown this once. Credentials are stored encrypted and never returned. The connector works in the mode of the key that creates it (test keys make test orders).",
  security: [{ ApiKey: [] }],
  middleware: [authenticate("connectors:manage")] as const,
  request: {
    body: { required: true, content: { "application/json": { schema: CreateConnectorSchema } } },
  },
  responses: {
    201: {
      description: "The connector",
      content: { "application/json": { schema: CreatedConnectorSchema } },
    },
    ...errorResponses(
      "invalid_json",
      "validation_failed",
      "unauthorized",
      "forbidden",
      "payload_too_large",
      "unsupported_media_type",
      "quota_exceeded",
      "internal_error",
      "service_unavailable",
    ),
  },
});

export function registerCreateConnector(app: App): void {
  app.openapi(createConnectorRoute, async (c) => {
    const services = c.var.services;
    const scope = { tenantId: c.var.auth.tenantId, mode: c.var.auth.mode };
    const body = c.req.valid("json");
    const keyring = requireKeyring(services);
    const now = services.clock.now();
    const validated = validatePlatformConfig(body.platform, body.settings ?? {}, body.credentials ?? {});
    if (!validated.ok) {
      throw new ApiError("validation_failed", "The connector configuration is invalid.", {
        errors: validated.errors,
      });
    }
    const settings = finishPlatformSettings(services, body.platform, validated.config.settings, now);
    const credentials = { ...validated.config.credentials };
    const generated: Record<string, string> = {};
    for (const name of generatedCredentials[body.platform]) {
      if (credentials[name] === undefined) {
        credentials[name] = generateToken();
        generated[name] = credentials[name];
      }
    }
    const id = randomUUID();
    const row = await services.db.transaction(async (tx) => {
      const inserted = await insertConnector(tx, scope, {
        id,
        platform: body.platform,
        name: body.name ?? body.platform,
        enabled: body.enabled ?? true,
        settings,
        defaults: body.defaults ?? {},
        externalIdPrefix: body.external_id_prefix ?? platformSchemas[body.platform].prefix,
        credentialsSealed: sealCredentials(keyring, id, credentials),
        credentialNames: Object.keys(credentials).sort(),
      });
      if (inserted.platform === "magento" && inserted.enabled && settings.poll_enabled === true) {
        await schedulePoll(tx, inserted, now);
      }
      return inserted;
    });
    const pollJob = row.platform === "magento" ? await getPollJob(services.db, row.id) : null;
    return c.json(
      { ...toConnector(row, services.config.publicBaseUrl, pollJob), generated_credentials: generated },
      201,
    );
  });
}
