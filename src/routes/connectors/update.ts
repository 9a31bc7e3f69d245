import { createRoute } from "@hono/zod-openapi";
import { cancelPoll, getPollJob, schedulePoll } from "../../domain/connectors/jobs.ts";
import { type ConnectorDefaults, platformSchemas } from "../../domain/connectors/platforms.ts";
import { getConnector, sealCredentials, updateConnector } from "../../domain/connectors/store.ts";
import { authenticate } from "../../http/auth.ts";
import type { App } from "../../http/context.ts";
import { ApiError, errorResponses, type FieldError } from "../../http/problem.ts";
import { finishPlatformSettings, openConnectorCredentials, requireKeyring } from "./create.ts";
import { ConnectorIdParam, ConnectorSchema, toConnector, UpdateConnectorSchema } from "./schemas.ts";

/** `{...current, ...patch}` where a `null` in the patch removes the key. */
function merge<T>(
  current: Record<string, T>,
  patch: Record<string, T | null | undefined>,
): Record<string, T> {
  const merged: Record<string, T> = { ...current };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete merged[key];
    else if (value !== undefined) merged[key] = value;
  }
  return merged;
}

export const updateConnectorRoute = createRoute({
  method: "patch",
  path: "/v1/connectors/{id}",
  tags: ["Connectors"],
  operationId: "updateConnector",
  summary: "Update a connector",
  description:
    "Changes the name, `enabled`, defaults, settings or credentials. Settings, defaults and credentials are merged into the current ones (`null` removes one) and the result is validated as on creation. Turning Magento polling on starts the poller now; changing `poll_since` starts it over from that time.",
  security: [{ ApiKey: [] }],
  middleware: [authenticate("connectors:manage")] as const,
  request: {
    params: ConnectorIdParam,
    body: { required: true, content: { "application/json": { schema: UpdateConnectorSchema } } },
  },
  responses: {
    200: {
      description: "The updated connector",
      content: { "application/json": { schema: ConnectorSchema } },
    },
    ...errorResponses(
      "invalid_json",
      "validation_failed",
      "unauthorized",
      "forbidden",
      "not_found",
      "payload_too_large",
      "unsupported_media_type",
      "quota_exceeded",
      "internal_error",
      "service_unavailable",
    ),
  },
});

export function registerUpdateConnector(app: App): void {
  app.openapi(updateConnectorRoute, async (c) => {
    const services = c.var.services;
    const scope = { tenantId: c.var.auth.tenantId, mode: c.var.auth.mode };
    const id = c.req.valid("param").id;
    const patch = c.req.valid("json");
    const now = services.clock.now();
    const row = await services.db.transaction(async (tx) => {
      const current = await getConnector(tx, scope, id);
      if (!current) throw new ApiError("not_found", "No connector with this id.");
      await tx.query("select id from connectors where id = $1 for update", [current.id]);
      const keyring = patch.credentials ? requireKeyring(services) : null;
      const schemas = platformSchemas[current.platform];
      const errors: FieldError[] = [];
      const parsedSettings = schemas.settings.safeParse(
        merge<unknown>(current.settings, patch.settings ?? {}),
      );
      if (!parsedSettings.success) {
        for (const issue of parsedSettings.error.issues)
          errors.push({ path: `/settings/${issue.path.join("/")}`, message: issue.message });
      }
      // Credentials are opened, merged and validated only when they change: a settings change needs no key.
      let credentials: Record<string, string> | undefined;
      if (keyring) {
        const parsedCredentials = schemas.credentials.safeParse(
          merge(openConnectorCredentials(services, current), patch.credentials ?? {}),
        );
        if (parsedCredentials.success) credentials = parsedCredentials.data as Record<string, string>;
        else {
          for (const issue of parsedCredentials.error.issues) {
            errors.push({ path: `/credentials/${issue.path.join("/")}`, message: issue.message });
          }
        }
      }
      if (errors.length > 0 || !parsedSettings.success) {
        throw new ApiError("validation_failed", "The connector configuration is invalid.", { errors });
      }
      const parsed = parsedSettings.data as Record<string, unknown>;
      const credentialNames = credentials ? Object.keys(credentials).sort() : current.credential_names;
      if (
        current.platform === "magento" &&
        parsed.poll_enabled === true &&
        !credentialNames.includes("access_token")
      ) {
        throw new ApiError("validation_failed", "The connector configuration is invalid.", {
          errors: [
            { path: "/credentials/access_token", message: "required when settings.poll_enabled is true" },
          ],
        });
      }
      const wasPolling = current.settings.poll_enabled === true;
      const settings = finishPlatformSettings(
        services,
        current.platform,
        // A poller turned on again starts from now (or the given poll_since), not from when it was first enabled.
        wasPolling ? parsed : { ...parsed, poll_since: patch.settings?.poll_since ?? undefined },
        now,
      );
      const defaults = merge(
        current.defaults as Record<string, unknown>,
        patch.defaults ?? {},
      ) as ConnectorDefaults;
      const updated = await updateConnector(tx, scope, id, {
        name: patch.name,
        enabled: patch.enabled,
        settings: patch.settings ? settings : undefined,
        defaults: patch.defaults ? defaults : undefined,
        externalIdPrefix: patch.external_id_prefix,
        credentialsSealed: keyring && credentials ? sealCredentials(keyring, id, credentials) : undefined,
        credentialNames: credentials ? credentialNames : undefined,
        resetPollCursor: patch.settings !== undefined && settings.poll_since !== current.settings.poll_since,
      });
      if (!updated) throw new ApiError("not_found", "No connector with this id.");
      if (updated.platform === "magento") {
        const polling = updated.enabled && updated.settings.poll_enabled === true;
        if (!polling) await cancelPoll(tx, updated.id);
        else if (!wasPolling || !current.enabled || patch.settings || patch.credentials)
          await schedulePoll(tx, updated, now);
      }
      return updated;
    });
    const pollJob = row.platform === "magento" ? await getPollJob(services.db, row.id) : null;
    return c.json(toConnector(row, services.config.publicBaseUrl, pollJob), 200);
  });
}
