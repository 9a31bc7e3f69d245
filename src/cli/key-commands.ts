// Loaded through commands.ts (which spreads `keyCommands` into the registry): CliError is only used at run time,
// so the import cycle between the two modules is harmless.

import { listKeyAudit } from "../domain/keys/audit.ts";
import type { KeyMode } from "../domain/keys/format.ts";
import {
  type ApiKeyRecord,
  maxRotationGraceSeconds,
  rotateApiKey,
  setApiKeyRateLimit,
} from "../domain/keys/store.ts";
import { setTenantRateLimit } from "../domain/keys/tenant-limits.ts";
import { getTenant } from "../domain/tenants/store.ts";
import { parseDuration } from "../domain/webhooks/durations.ts";
import type { Services } from "../services.ts";
import { type CliArgs, type CliCommand, CliError } from "./commands.ts";

const json = { json: { type: "boolean" } } as const;

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
    replaced_by: key.replaced_by,
  };
}

function stringOption(args: CliArgs, name: string): string | undefined {
  const value = args.values[name];
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

/** `N` requests per minute, or `default` (null: fall back to the tenant's, or the plan's, limit). */
function parsePerMinute(text: string, option: string): number | null {
  if (text === "default") return null;
  if (!/^[1-9][0-9]{0,6}$/.test(text)) {
    throw new CliError(`--${option} must be a whole number of requests per minute (1..9999999) or "default"`);
  }
  return Number(text);
}

async function requireTenant(services: Services, args: CliArgs) {
  const tenantId = stringOption(args, "tenant");
  if (!tenantId) throw new CliError("--tenant is required");
  const tenant = await getTenant(services.db, tenantId);
  if (!tenant) throw new CliError(`No tenant with id ${tenantId}`);
  return tenant;
}

/** Key rotation, the key audit log, and rate-limit settings (issue 5). */
export const keyCommands: CliCommand[] = [
  {
    name: "keys rotate",
    summary: "Issue a new key (shown once); the old one keeps working for the grace period",
    usage: "keys rotate KEY_ID [--grace 24h] [--json]",
    options: { ...json, grace: { type: "string" } },
    async run(services, args) {
      const keyId = args.positionals[0];
      if (!keyId) throw new CliError("Give the id of the key to rotate: keys rotate KEY_ID [--grace 24h]");
      const graceText = stringOption(args, "grace") ?? "24h";
      const graceMs = graceText === "0" ? 0 : parseDuration(graceText);
      if (graceMs === null || graceMs % 1000 !== 0 || graceMs / 1000 > maxRotationGraceSeconds) {
        throw new CliError(
          "--grace must be a duration in whole seconds up to 30d, such as 0, 90s, 15m, 24h or 7d",
        );
      }
      const result = await rotateApiKey(services.db, keyId, {
        graceSeconds: graceMs / 1000,
        now: services.clock.now(),
        actor: "cli",
      });
      if (result.kind === "not_found") throw new CliError(`No key with id ${keyId}`);
      if (result.kind === "inactive")
        throw new CliError(`Key ${keyId} is revoked or expired: create a new one`);
      if (result.kind === "already_rotated") {
        throw new CliError(
          `Key ${keyId} was already rotated; rotate its successor ${result.old.replaced_by}`,
        );
      }
      services.keyVerifier.invalidateKey(result.old.id);
      const until = result.old.revoked_at ?? result.old.expires_at;
      return {
        json: { key: keyJson(result.key), api_key: result.apiKey, previous_key: keyJson(result.old) },
        text: [
          `Key ${result.old.id} rotated. New key ${result.key.id} (${result.key.mode} mode, scopes ${result.key.scopes.join(", ")}):`,
          "",
          `  ${result.apiKey}`,
          "",
          "This is the only time the key is shown: store it now.",
          graceMs === 0
            ? "The old key was revoked at once."
            : `The old key keeps working until ${until?.toISOString()}.`,
        ].join("\n"),
      };
    },
  },
  {
    name: "keys audit",
    summary: "Who created, rotated, revoked or changed a tenant's keys, newest first",
    usage: "keys audit --tenant ID [--mode live|test] [--limit N] [--json]",
    options: { ...json, tenant: { type: "string" }, mode: { type: "string" }, limit: { type: "string" } },
    async run(services, args) {
      const tenant = await requireTenant(services, args);
      const modeText = stringOption(args, "mode");
      if (modeText !== undefined && modeText !== "live" && modeText !== "test") {
        throw new CliError(`--mode must be live or test, not ${modeText}`);
      }
      const limitText = stringOption(args, "limit") ?? "50";
      if (!/^[1-9][0-9]{0,2}$/.test(limitText) || Number(limitText) > 500) {
        throw new CliError("--limit must be a whole number from 1 to 500");
      }
      const page = await listKeyAudit(services.db, tenant.id, {
        limit: Number(limitText),
        ...(modeText ? { mode: modeText as KeyMode } : {}),
      });
      const events = page.rows.map((row) => ({
        id: String(row.id),
        key_id: row.key_id,
        mode: row.mode,
        action: row.action,
        actor: row.actor,
        details: row.details,
        occurred_at: row.occurred_at.toISOString(),
      }));
      return {
        json: { events },
        text:
          events.length === 0
            ? "No key events."
            : events
                .map(
                  (e) =>
                    `${e.occurred_at}  ${e.action.padEnd(7)}  ${e.key_id}  ${e.mode.padEnd(4)}  by ${e.actor}`,
                )
                .join("\n"),
      };
    },
  },
  {
    name: "keys set-limit",
    summary: "Set a key's own requests-per-minute limit (default: back to its tenant's)",
    usage: "keys set-limit KEY_ID --per-minute N|default [--json]",
    options: { ...json, "per-minute": { type: "string" } },
    async run(services, args) {
      const keyId = args.positionals[0];
      if (!keyId) throw new CliError("Give the id of the key: keys set-limit KEY_ID --per-minute N|default");
      const perMinuteText = stringOption(args, "per-minute");
      if (!perMinuteText) throw new CliError("--per-minute is required (a number, or default)");
      const key = await setApiKeyRateLimit(services.db, keyId, parsePerMinute(perMinuteText, "per-minute"), {
        actor: "cli",
      });
      if (!key) throw new CliError(`No key with id ${keyId}`);
      services.keyVerifier.invalidateKey(key.id);
      return {
        json: { key: keyJson(key) },
        text: `Key ${key.id}: ${key.rate_limit_per_minute ?? "the tenant's"} requests per minute.`,
      };
    },
  },
  {
    name: "tenants set-limit",
    summary: "Set a tenant's plan and/or its own requests-per-minute limit per key",
    usage: "tenants set-limit --tenant ID [--plan NAME] [--per-minute N|default] [--json]",
    options: {
      ...json,
      tenant: { type: "string" },
      plan: { type: "string" },
      "per-minute": { type: "string" },
    },
    async run(services, args) {
      const tenant = await requireTenant(services, args);
      const plan = stringOption(args, "plan");
      const perMinuteText = stringOption(args, "per-minute");
      if (plan === undefined && perMinuteText === undefined) {
        throw new CliError("Give --plan NAME, --per-minute N|default, or both");
      }
      if (plan !== undefined && !/^[A-Za-z0-9_-]{1,50}$/.test(plan)) {
        throw new CliError("--plan must be 1-50 letters, digits, _ or -");
      }
      const updated = await setTenantRateLimit(services.db, tenant.id, {
        ...(plan !== undefined ? { plan } : {}),
        ...(perMinuteText !== undefined ? { perMinute: parsePerMinute(perMinuteText, "per-minute") } : {}),
      });
      if (!updated) throw new CliError(`No tenant with id ${tenant.id}`);
      services.keyVerifier.invalidateTenant(updated.id);
      const planLimit =
        services.config.RATE_LIMIT_PLANS[updated.plan] ?? services.config.RATE_LIMIT_PER_MINUTE;
      const effective = updated.rate_limit_per_minute ?? planLimit;
      return {
        json: {
          tenant: {
            id: updated.id,
            plan: updated.plan,
            rate_limit_per_minute: updated.rate_limit_per_minute,
            effective_rate_limit_per_minute: effective,
          },
        },
        text: `Tenant ${updated.id}: plan ${updated.plan}, ${effective} requests per minute per key${
          updated.rate_limit_per_minute === null ? " (the plan's)" : " (tenant override)"
        }.`,
      };
    },
  },
];
