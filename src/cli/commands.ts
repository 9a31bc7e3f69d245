import type { ParseArgsConfig } from "node:util";
import { migrate } from "../adapters/db/migrate.ts";
import type { KeyMode } from "../domain/keys/format.ts";
import { allScopes, customerScopes, isScope, type Scope } from "../domain/keys/scopes.ts";
import { type ApiKeyRecord, createApiKey, listApiKeys, revokeApiKey } from "../domain/keys/store.ts";
import { createTenant, getTenant, listTenants } from "../domain/tenants/store.ts";
import type { Services } from "../services.ts";
import { connectorCommands } from "./connector-commands.ts";
import { keyCommands } from "./key-commands.ts";
import { lifecycleCommands } from "./lifecycle-commands.ts";
import { webhookCommands } from "./webhook-commands.ts";

/** What a command prints: `json` with --json, `text` for people otherwise. */
export interface CliResult {
  json: unknown;
  text: string;
}

export interface CliArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

export interface CliCommand {
  /** The words that select the command, e.g. "keys create". */
  name: string;
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig["options"]>;
  /**
   * Commands that only make sense in the calling process (a worker loop) are never forwarded to a running
   * service.
   */
  localOnly?: boolean;
  run(services: Services, args: CliArgs): Promise<CliResult>;
}

/** A usage or input error: printed without a stack, exit code 2. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
    this.name = "CliError";
  }
}

function required(args: CliArgs, name: string): string {
  const value = args.values[name];
  if (typeof value !== "string" || value.trim() === "") throw new CliError(`--${name} is required`);
  return value.trim();
}

function parseMode(value: string | boolean | undefined): KeyMode {
  if (value === undefined) return "test";
  if (value === "live" || value === "test") return value;
  throw new CliError(`--mode must be live or test, not ${String(value)}`);
}

function parseScopes(value: string | boolean | undefined): Scope[] {
  if (value === undefined) return customerScopes;
  const scopes = String(value)
    .split(",")
    .map((scope) => scope.trim())
    .filter(Boolean);
  const unknown = scopes.filter((scope) => !isScope(scope));
  if (scopes.length === 0 || unknown.length > 0) {
    throw new CliError(
      `Unknown scope(s): ${unknown.join(", ") || "(none given)"}. Known: ${allScopes.join(", ")}`,
    );
  }
  return [...new Set(scopes)] as Scope[];
}

function keyJson(key: ApiKeyRecord) {
  return {
    id: key.id,
    tenant_id: key.tenant_id,
    mode: key.mode,
    name: key.name,
    prefix: key.display_prefix,
    scopes: key.scopes,
    rate_limit_per_minute: key.rate_limit_per_minute,
    created_at: key.created_at.toISOString(),
    expires_at: key.expires_at?.toISOString() ?? null,
    revoked_at: key.revoked_at?.toISOString() ?? null,
    last_used_at: key.last_used_at?.toISOString() ?? null,
  };
}

const json = { json: { type: "boolean" } } as const;

export const commands: CliCommand[] = [
  {
    name: "migrate",
    summary: "Apply pending database migrations",
    usage: "migrate [--json]",
    options: { ...json },
    async run(services) {
      const result = await migrate(services.db);
      return {
        json: result,
        text:
          result.applied.length > 0
            ? `Applied ${result.applied.length} migration(s): ${result.applied.join(", ")}`
            : `Database is up to date (${result.alreadyApplied} migrations applied earlier).`,
      };
    },
  },
  {
    name: "tenants create",
    summary: "Create a tenant and its first API key (shown once)",
    usage: 'tenants create --name "Acme" [--mode test|live] [--plan NAME] [--json]',
    options: { ...json, name: { type: "string" }, mode: { type: "string" }, plan: { type: "string" } },
    async run(services, args) {
      const name = required(args, "name");
      if (name.length > 200) throw new CliError("--name must be at most 200 characters");
      const mode = parseMode(args.values.mode);
      const plan = typeof args.values.plan === "string" ? args.values.plan : undefined;
      const { tenant, key, apiKey } = await createTenant(services.db, {
        name,
        mode,
        ...(plan ? { plan } : {}),
      });
      return {
        json: {
          tenant: { id: tenant.id, name: tenant.name, plan: tenant.plan },
          key: keyJson(key),
          api_key: apiKey,
        },
        text: [
          `Tenant created: ${tenant.name} (${tenant.id})`,
          `API key (${key.mode} mode, scopes ${key.scopes.join(", ")}):`,
          "",
          `  ${apiKey}`,
          "",
          "This is the only time the key is shown: store it now.",
        ].join("\n"),
      };
    },
  },
  {
    name: "tenants list",
    summary: "List tenants",
    usage: "tenants list [--json]",
    options: { ...json },
    async run(services) {
      const tenants = await listTenants(services.db);
      return {
        json: {
          tenants: tenants.map((t) => ({
            id: t.id,
            name: t.name,
            plan: t.plan,
            created_at: t.created_at.toISOString(),
          })),
        },
        text:
          tenants.length === 0
            ? "No tenants yet."
            : tenants.map((t) => `${t.id}  ${t.plan.padEnd(10)} ${t.name}`).join("\n"),
      };
    },
  },
  {
    name: "keys create",
    summary: "Create an API key for a tenant (shown once)",
    usage:
      "keys create --tenant ID [--mode live|test] [--scopes a,b] [--name TEXT] [--expires-at ISO] [--rate-limit N] [--json]",
    options: {
      ...json,
      tenant: { type: "string" },
      mode: { type: "string" },
      scopes: { type: "string" },
      name: { type: "string" },
      "expires-at": { type: "string" },
      "rate-limit": { type: "string" },
    },
    async run(services, args) {
      const tenantId = required(args, "tenant");
      const tenant = await getTenant(services.db, tenantId);
      if (!tenant) throw new CliError(`No tenant with id ${tenantId}`);
      const mode = parseMode(args.values.mode);
      const scopes = parseScopes(args.values.scopes);
      let expiresAt: Date | null = null;
      if (typeof args.values["expires-at"] === "string") {
        expiresAt = new Date(args.values["expires-at"]);
        if (Number.isNaN(expiresAt.getTime())) throw new CliError("--expires-at must be an ISO 8601 date");
        if (expiresAt.getTime() <= Date.now()) throw new CliError("--expires-at must be in the future");
      }
      const name = typeof args.values.name === "string" ? args.values.name : null;
      const rateText = typeof args.values["rate-limit"] === "string" ? args.values["rate-limit"] : undefined;
      if (rateText !== undefined && !/^[1-9][0-9]{0,6}$/.test(rateText)) {
        throw new CliError("--rate-limit must be a whole number of requests per minute");
      }
      const rateLimitPerMinute = rateText === undefined ? null : Number(rateText);
      const { key, apiKey } = await createApiKey(services.db, {
        tenantId,
        mode,
        scopes,
        name,
        expiresAt,
        rateLimitPerMinute,
        actor: "cli",
      });
      return {
        json: { key: keyJson(key), api_key: apiKey },
        text: [
          `API key ${key.id} created for ${tenant.name} (${key.mode} mode, scopes ${key.scopes.join(", ")}):`,
          "",
          `  ${apiKey}`,
          "",
          "This is the only time the key is shown: store it now.",
        ].join("\n"),
      };
    },
  },
  {
    name: "keys list",
    summary: "List a tenant's API keys (never the keys themselves)",
    usage: "keys list --tenant ID [--json]",
    options: { ...json, tenant: { type: "string" } },
    async run(services, args) {
      const tenantId = required(args, "tenant");
      const tenant = await getTenant(services.db, tenantId);
      if (!tenant) throw new CliError(`No tenant with id ${tenantId}`);
      const keys = await listApiKeys(services.db, tenantId);
      return {
        json: { keys: keys.map(keyJson) },
        text:
          keys.length === 0
            ? "No keys."
            : keys
                .map(
                  (k) =>
                    `${k.id}  ${k.display_prefix}…  ${k.mode.padEnd(4)}  ${k.revoked_at ? "revoked" : "active "}  ${k.scopes.join(",")}`,
                )
                .join("\n"),
      };
    },
  },
  {
    name: "keys revoke",
    summary: "Revoke an API key",
    usage: "keys revoke KEY_ID [--json]",
    options: { ...json },
    async run(services, args) {
      const keyId = args.positionals[0];
      if (!keyId) throw new CliError("Give the id of the key to revoke: keys revoke KEY_ID");
      const key = await revokeApiKey(services.db, keyId);
      if (!key) throw new CliError(`No key with id ${keyId}`);
      // This process stops accepting it now; every other instance learns it from the database's NOTIFY.
      services.keyVerifier.invalidateKey(key.id);
      return {
        json: { key: keyJson(key) },
        text: `Key ${key.id} revoked at ${key.revoked_at?.toISOString()}.`,
      };
    },
  },
  ...lifecycleCommands,
  ...keyCommands,
  ...webhookCommands,
  ...connectorCommands,
];

/** The command selected by the leading words of argv (longest match), and the rest of argv. */
export function findCommand(argv: string[]): { command: CliCommand; rest: string[] } | null {
  let best: { command: CliCommand; rest: string[] } | null = null;
  for (const command of commands) {
    const words = command.name.split(" ");
    if (
      words.every((word, i) => argv[i] === word) &&
      (!best || words.length > best.command.name.split(" ").length)
    ) {
      best = { command, rest: argv.slice(words.length) };
    }
  }
  return best;
}

/** The usage column's width: a longer usage (connectors create) puts its summary on the next line. */
const usageColumn = 56;

export function usage(): string {
  const width = Math.min(usageColumn, Math.max(...commands.map((c) => c.usage.length)));
  return [
    "Usage: cellvi-connect <command> [options]",
    "",
    // Padding every line to the longest usage made each about 240 characters wide, unreadable in a terminal.
    ...commands.map((c) =>
      c.usage.length <= width
        ? `  ${c.usage.padEnd(width)}  ${c.summary}`
        : `  ${c.usage}
  ${"".padEnd(width)}  ${c.summary}`,
    ),
    "",
    "Configuration comes from the environment (DATABASE_URL, DATA_DIR, ...): see README.md.",
  ].join("\n");
}
