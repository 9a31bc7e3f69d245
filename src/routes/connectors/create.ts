import { createRoute } from "@hono/zod-openapi";
import { getPollJob } from "../../domain/connectors/jobs.ts";
import {
  ConnectorConfigError,
  createConnectorRecord,
  finishPlatformSettings as finishSettings,
  requireConnectorKeyring,
} from "../../domain/connectors/manage.ts";
import type { Platform } from "../../domain/connectors/platforms.ts";
import {
  EncryptionKeyMissingError,
  type Keyring,
  SecretBoxError,
} from "../../domain/connectors/secret-box.ts";
import { type ConnectorRow, openCredentials } from "../../domain/connectors/store.ts";
import { authenticate } from "../../http/auth.ts";
import type { App } from "../../http/context.ts";
import { ApiError, errorResponses } from "../../http/problem.ts";
import type { Services } from "../../services.ts";
import { CreateConnectorSchema, CreatedConnectorSchema, toConnector } from "./schemas.ts";

/** The domain's expected failures as problem+json: a bad configuration is a 400, a missing key a 503. */
export function connectorApiError(error: unknown): unknown {
  if (error instanceof ConnectorConfigError) {
    return new ApiError("validation_failed", "The connector configuration is invalid.", {
      errors: error.errors,
    });
  }
  if (error instanceof EncryptionKeyMissingError) return new ApiError("service_unavailable", error.message);
  return error;
}

/**
 * The connector's credentials, opened. A value sealed with a key this deployment no longer has (the key changed
 * without CONNECTOR_ENCRYPTION_PREVIOUS_KEYS) is an operator problem: 503 saying so, and the detail in the log.
 */
export function openConnectorCredentials(
  services: Services,
  connector: ConnectorRow,
): Record<string, string> {
  try {
    return openCredentials(requireKeyring(services), connector);
  } catch (error) {
    if (!(error instanceof SecretBoxError)) throw error;
    services.logger.error(
      { err: error, connector_id: connector.id },
      "connector credentials cannot be opened",
    );
    throw new ApiError(
      "service_unavailable",
      "This connector's credentials cannot be opened with the configured CONNECTOR_ENCRYPTION_KEY; the operator must restore the key it was sealed with (CONNECTOR_ENCRYPTION_PREVIOUS_KEYS).",
    );
  }
}

export function requireKeyring(services: Services): Keyring {
  try {
    return requireConnectorKeyring(services);
  } catch (error) {
    throw connectorApiError(error);
  }
}

export function finishPlatformSettings(
  services: Services,
  platform: Platform,
  settings: Record<string, unknown>,
  now: Date,
): Record<string, unknown> {
  try {
    return finishSettings(services, platform, settings, now);
  } catch (error) {
    throw connectorApiError(error);
  }
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
    const created = await createConnectorRecord(services, scope, body).catch((error: unknown) => {
      throw connectorApiError(error);
    });
    const row = created.connector;
    const pollJob = row.platform === "magento" ? await getPollJob(services.db, row.id) : null;
    c.header("location", `/v1/connectors/${row.id}`);
    return c.json(
      {
        ...toConnector(row, services.config.publicBaseUrl, pollJob),
        generated_credentials: created.generated,
      },
      201,
    );
  });
}
