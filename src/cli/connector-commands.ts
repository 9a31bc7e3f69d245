import { cancelPoll, schedulePoll } from "../domain/connectors/jobs.ts";
import {
  ConnectorConfigError,
  createConnectorRecord,
  requireConnectorKeyring,
} from "../domain/connectors/manage.ts";
import { inboundUrl, type Platform, platforms } from "../domain/connectors/platforms.ts";
import { EncryptionKeyMissingError } from "../domain/connectors/secret-box.ts";
import {
  type ConnectorRow,
  type DeliveryStatus,
  deleteConnector,
  getConnectorById,
  listConnectors,
  listDeliveries,
  openCredentials,
  scopeOf,
  sealCredentials,
  updateConnector,
} from "../domain/connectors/store.ts";
import { startConnectorWorker } from "../domain/connectors/worker.ts";
import type { KeyMode } from "../domain/keys/format.ts";
import { getTenant } from "../domain/tenants/store.ts";
import { sealStoredSecrets } from "../domain/webhooks/sealed-secrets.ts";
import type { Services } from "../services.ts";
import { type CliArgs, type CliCommand, CliError } from "./commands.ts";

/** Operator commands for connectors: the same operations as /v1/connectors, across tenants, plus the worker. */

const json = { json: { type: "boolean" } } as const;

function required(args: CliArgs, name: string): string {
  const value = args.values[name];
  if (typeof value !== "string" || value.trim() === "") throw new CliError(`--${name} is required`);
  return value.trim();
}

function mode(args: CliArgs): KeyMode {
  const value = args.values.mode ?? "test";
  if (value !== "live" && value !== "test")
    throw new CliError(`--mode must be live or test, not ${String(value)}`);
  return value;
}

function jsonOption(args: CliArgs, name: string): unknown {
  const value = args.values[name];
  if (value === undefined) return undefined;
  try {
    return JSON.parse(String(value));
  } catch {
    throw new CliError(`--${name} must be a JSON object, e.g. --${name} '{"key":"value"}'`);
  }
}

async function connectorArg(services: Services, args: CliArgs): Promise<ConnectorRow> {
  const id = args.positionals[0];
  if (!id) throw new CliError("Give the connector id: connectors <command> CONNECTOR_ID");
  const connector = await getConnectorById(services.db, id);
  if (!connector) throw new CliError(`No connector with id ${id}`);
  return connector;
}

function describe(connector: ConnectorRow, baseUrl: string) {
  return {
    id: connector.id,
    tenant_id: connector.tenant_id,
    mode: connector.mode,
    platform: connector.platform,
    name: connector.name,
    enabled: connector.enabled,
    inbound_url: inboundUrl(baseUrl, connector.platform, connector.id),
    external_id_prefix: connector.external_id_prefix,
    settings: connector.settings,
    defaults: connector.defaults,
    credentials_set: connector.credential_names,
    poll_cursor: connector.poll_cursor,
    last_polled_at: connector.last_polled_at?.toISOString() ?? null,
    last_poll_error: connector.last_poll_error,
    last_delivery_at: connector.last_delivery_at?.toISOString() ?? null,
    created_at: connector.created_at.toISOString(),
  };
}

function line(connector: ConnectorRow): string {
  return `${connector.id}  ${connector.mode.padEnd(4)}  ${connector.platform.padEnd(11)}  ${connector.enabled ? "enabled " : "disabled"}  ${connector.name}`;
}

function cliFailure(error: unknown): never {
  if (error instanceof ConnectorConfigError) {
    throw new CliError(
      `Invalid connector configuration:\n${error.errors.map((e) => `  ${e.path}: ${e.message}`).join("\n")}`,
    );
  }
  if (error instanceof EncryptionKeyMissingError) throw new CliError(error.message);
  throw error;
}

async function setEnabled(services: Services, args: CliArgs, enabled: boolean) {
  const connector = await connectorArg(services, args);
  const updated = await services.db.transaction(async (tx) => {
    const row = await updateConnector(tx, scopeOf(connector), connector.id, { enabled });
    if (row?.platform === "magento") {
      if (enabled && row.settings.poll_enabled === true) await schedulePoll(tx, row, services.clock.now());
      else await cancelPoll(tx, row.id);
    }
    return row!;
  });
  return {
    json: { connector: describe(updated, services.config.publicBaseUrl) },
    text: `Connector ${updated.id} ${enabled ? "enabled" : "disabled"}.`,
  };
}

export const connectorCommands: CliCommand[] = [
  {
    name: "connectors create",
    summary: "Connect a shop to a tenant; prints the inbound URL and any generated secret (shown once)",
    usage:
      "connectors create --tenant ID --platform shopify|woocommerce|vtex|magento [--mode test|live] [--name TEXT] [--credentials JSON] [--settings JSON] [--defaults JSON] [--prefix TEXT] [--json]",
    options: {
      ...json,
      tenant: { type: "string" },
      platform: { type: "string" },
      mode: { type: "string" },
      name: { type: "string" },
      credentials: { type: "string" },
      settings: { type: "string" },
      defaults: { type: "string" },
      prefix: { type: "string" },
    },
    async run(services, args) {
      const tenantId = required(args, "tenant");
      if (!(await getTenant(services.db, tenantId))) throw new CliError(`No tenant with id ${tenantId}`);
      const platform = required(args, "platform");
      if (!(platforms as readonly string[]).includes(platform))
        throw new CliError(`--platform must be one of ${platforms.join(", ")}`);
      const created = await createConnectorRecord(
        services,
        { tenantId, mode: mode(args) },
        {
          platform: platform as Platform,
          name: typeof args.values.name === "string" ? args.values.name : undefined,
          external_id_prefix: typeof args.values.prefix === "string" ? args.values.prefix : undefined,
          credentials: jsonOption(args, "credentials"),
          settings: jsonOption(args, "settings"),
          defaults: jsonOption(args, "defaults"),
        },
      ).catch(cliFailure);
      const described = describe(created.connector, services.config.publicBaseUrl);
      const secrets = Object.entries(created.generated);
      return {
        json: { connector: described, generated_credentials: created.generated },
        text: [
          `Connector ${described.id} (${described.platform}, ${described.mode} mode) created.`,
          `Inbound URL (paste it into ${described.platform}):`,
          "",
          `  ${described.inbound_url}`,
          ...(secrets.length > 0
            ? [
                "",
                "Generated secrets, shown this once:",
                ...secrets.map(([name, value]) => `  ${name}: ${value}`),
              ]
            : []),
        ].join("\n"),
      };
    },
  },
  {
    name: "connectors list",
    summary: "List a tenant's connectors",
    usage: "connectors list --tenant ID [--mode test|live] [--json]",
    options: { ...json, tenant: { type: "string" }, mode: { type: "string" } },
    async run(services, args) {
      const rows = await listConnectors(
        services.db,
        { tenantId: required(args, "tenant"), mode: mode(args) },
        {},
      );
      return {
        json: { connectors: rows.map((row) => describe(row, services.config.publicBaseUrl)) },
        text: rows.length === 0 ? "No connectors." : rows.map(line).join("\n"),
      };
    },
  },
  {
    name: "connectors show",
    summary: "Show a connector (never its credentials)",
    usage: "connectors show CONNECTOR_ID [--json]",
    options: { ...json },
    async run(services, args) {
      const connector = await connectorArg(services, args);
      const described = describe(connector, services.config.publicBaseUrl);
      return {
        json: { connector: described },
        text: Object.entries(described)
          .map(
            ([key, value]) =>
              `${key.padEnd(20)} ${typeof value === "object" && value !== null ? JSON.stringify(value) : String(value)}`,
          )
          .join("\n"),
      };
    },
  },
  {
    name: "connectors enable",
    summary: "Enable a connector (its inbound URL accepts deliveries again; polling resumes)",
    usage: "connectors enable CONNECTOR_ID [--json]",
    options: { ...json },
    run: (services, args) => setEnabled(services, args, true),
  },
  {
    name: "connectors disable",
    summary: "Disable a connector (its inbound URL answers 403; polling stops)",
    usage: "connectors disable CONNECTOR_ID [--json]",
    options: { ...json },
    run: (services, args) => setEnabled(services, args, false),
  },
  {
    name: "connectors delete",
    summary: "Delete a connector with its credentials, log and jobs (its orders stay)",
    usage: "connectors delete CONNECTOR_ID [--json]",
    options: { ...json },
    async run(services, args) {
      const connector = await connectorArg(services, args);
      await deleteConnector(services.db, scopeOf(connector), connector.id);
      return { json: { deleted: connector.id }, text: `Connector ${connector.id} deleted.` };
    },
  },
  {
    name: "connectors deliveries",
    summary: "What a connector received and what became of it, newest first",
    usage:
      "connectors deliveries CONNECTOR_ID [--status created|duplicate|skipped|rejected|pending|failed] [--limit N] [--json]",
    options: { ...json, status: { type: "string" }, limit: { type: "string" } },
    async run(services, args) {
      const connector = await connectorArg(services, args);
      const limit = args.values.limit === undefined ? 20 : Number(args.values.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
        throw new CliError("--limit must be a whole number from 1 to 1000");
      const status = args.values.status as DeliveryStatus | undefined;
      const page = await listDeliveries(services.db, scopeOf(connector), connector.id, { limit, status });
      return {
        json: {
          deliveries: page.rows.map((row) => ({
            ...row,
            received_at: row.received_at.toISOString(),
            updated_at: row.updated_at.toISOString(),
          })),
        },
        text:
          page.rows.length === 0
            ? "No deliveries."
            : page.rows
                .map(
                  (row) =>
                    `${row.received_at.toISOString()}  ${row.status.padEnd(9)}  ${(row.platform_order_id ?? "-").padEnd(20)}  ${row.detail ?? row.errors.map((e) => `${e.path}: ${e.message}`).join("; ")}`,
                )
                .join("\n"),
      };
    },
  },
  {
    name: "connectors poll",
    summary: "Poll a Magento connector now",
    usage: "connectors poll CONNECTOR_ID [--json]",
    options: { ...json },
    async run(services, args) {
      const connector = await connectorArg(services, args);
      if (
        connector.platform !== "magento" ||
        connector.settings.poll_enabled !== true ||
        !connector.enabled
      ) {
        throw new CliError("Only an enabled Magento connector with settings.poll_enabled polls.");
      }
      await services.db.transaction((tx) => schedulePoll(tx, connector, services.clock.now()));
      return {
        json: { scheduled: connector.id },
        text: `Poll of ${connector.id} is due now; a running worker picks it up.`,
      };
    },
  },
  {
    name: "connectors jobs",
    summary: "Show the connector job queue: VTEX fetches and Magento polls, by state",
    usage: "connectors jobs [--json]",
    options: { ...json },
    async run(services) {
      const { rows } = await services.db.query<{ kind: string; status: string; due: boolean; count: number }>(
        `select kind, status, run_at <= $1 as due, count(*)::int as count
           from connector_jobs group by kind, status, run_at <= $1 order by kind, status`,
        [services.clock.now()],
      );
      return {
        json: { jobs: rows },
        text:
          rows.length === 0
            ? "No connector jobs."
            : rows
                .map(
                  (row) =>
                    `${row.kind.padEnd(17)} ${row.status.padEnd(8)} ${row.due ? "due" : "later"}  ${row.count}`,
                )
                .join("\n"),
      };
    },
  },
  {
    name: "connectors rotate-key",
    summary:
      "Re-seal every connector's credentials and webhook signing secret with the current CONNECTOR_ENCRYPTION_KEY (after a key rotation)",
    usage: "connectors rotate-key [--json]",
    options: { ...json },
    async run(services) {
      let keyring: ReturnType<typeof requireConnectorKeyring>;
      try {
        keyring = requireConnectorKeyring(services);
      } catch (error) {
        cliFailure(error);
      }
      const { rows } = await services.db.query<ConnectorRow>("select * from connectors order by created_at");
      let resealed = 0;
      for (const row of rows) {
        if (row.credentials_sealed.split(".")[1] === keyring.currentId) continue;
        const credentials = openCredentials(keyring, row);
        await services.db.query("update connectors set credentials_sealed = $2 where id = $1", [
          row.id,
          sealCredentials(keyring, row.id, credentials),
        ]);
        resealed++;
      }
      // Webhook signing secrets are sealed with the same key: the previous key may leave only when they are re-sealed
      // too (housekeeping would do it within the hour; this makes the message below true now).
      const webhooks = await sealStoredSecrets(services.db, keyring);
      const leftOver =
        webhooks.unopenable > 0
          ? ` ${webhooks.unopenable} webhook signing secrets did not open with the configured keys and were left as they were.`
          : " The previous key can now leave CONNECTOR_ENCRYPTION_PREVIOUS_KEYS.";
      return {
        json: {
          connectors: rows.length,
          resealed,
          key_id: keyring.currentId,
          webhook_secrets_resealed: webhooks.sealed,
          webhook_secrets_unopenable: webhooks.unopenable,
        },
        text: `Re-sealed ${resealed} of ${rows.length} connectors and ${webhooks.sealed} webhook subscriptions' signing secrets with key ${keyring.currentId}.${leftOver}`,
      };
    },
  },
  {
    name: "connectors worker",
    summary: "Run connector jobs (VTEX order fetches, Magento polls) until SIGTERM/SIGINT",
    usage: "connectors worker [--json]",
    options: { ...json },
    // A loop that owns this process: never forwarded to a running service.
    localOnly: true,
    async run(services) {
      const worker = await startConnectorWorker(services);
      process.stderr.write(
        `connector worker ${process.pid} running on the ${services.db.kind} database; SIGTERM or Ctrl-C stops it\n`,
      );
      const signal = await new Promise<string>((resolve) => {
        process.once("SIGTERM", () => resolve("SIGTERM"));
        process.once("SIGINT", () => resolve("SIGINT"));
      });
      await worker.stop();
      return { json: { signal }, text: `Connector worker stopped on ${signal}.` };
    },
  },
];
