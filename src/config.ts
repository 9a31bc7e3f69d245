import { z } from "zod";
import { parseKey } from "./domain/connectors/secret-box.ts";
import { parseDuration, parseDurationList } from "./domain/webhooks/durations.ts";

/**
 * The service's configuration. This module is the only reader of the environment: everything else receives the
 * parsed `Config` through the services bag, so a test can build an app with any configuration it likes.
 */
const booleanFromEnv = z
  .enum(["true", "false", "1", "0", "yes", "no"])
  .transform((value) => value === "true" || value === "1" || value === "yes");

const emptyAsUndefined = (value: unknown) => (value === "" ? undefined : value);

/** A duration with a unit (`250ms`, `5s`, `2m`, `1h`, `5d`), parsed to milliseconds. */
function durationSetting(defaultValue: string) {
  return z
    .string()
    .default(defaultValue)
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === null) {
        ctx.addIssue({ code: "custom", message: "must be a duration such as 250ms, 10s, 5m, 24h or 5d" });
        return z.NEVER;
      }
      return ms;
    });
}

export const configSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().min(1).default("0.0.0.0"),
  DATABASE_URL: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// URL")
      .optional(),
  ),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
  /**
   * Run parameterised statements as named prepared statements (parsed and planned once per connection). Turn it off
   * behind a pooler in transaction mode (Supabase's port 6543), which cannot keep a connection's prepared
   * statements; the Supabase Edge Functions default to off.
   */
  DATABASE_PREPARED_STATEMENTS: z.preprocess(emptyAsUndefined, booleanFromEnv.default(true)),
  DATA_DIR: z.string().min(1).default("./.data"),
  REDIS_URL: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .regex(/^rediss?:\/\//, "must be a redis:// or rediss:// URL")
      .optional(),
  ),
  PUBLIC_BASE_URL: z.preprocess(emptyAsUndefined, z.url({ protocol: /^https?$/ }).optional()),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** Run the webhook dispatcher inside the API process (the embedded default delivers with no second command). */
  RUN_WORKER: z.preprocess(emptyAsUndefined, booleanFromEnv.optional()),
  /**
   * Average speed (km/h) the tracking ETA assumes over the straight-line distance from the driver's last position to
   * the destination. Lower than a vehicle's cruising speed on purpose: it absorbs street detours, traffic and stops.
   */
  ETA_AVERAGE_SPEED_KMH: z.coerce.number().positive().max(200).default(20),
  /** The NEARBY radius (metres) for tenants whose settings do not set `nearby_radius_m`. */
  NEARBY_RADIUS_M: z.coerce.number().int().min(10).max(50_000).default(1000),
  /** Per-attempt webhook timeout (connect + TLS + request + response), as a duration: `10s`, `2500ms`. */
  WEBHOOK_TIMEOUT: durationSetting("10s"),
  /** Delays between webhook attempts after the first (immediate) one; the delivery fails after the last. */
  WEBHOOK_RETRY_SCHEDULE: z
    .string()
    .default("5s,30s,2m,10m,30m,1h,3h,6h,12h,24h")
    .transform((text, ctx) => {
      const list = parseDurationList(text);
      if (!list) {
        ctx.addIssue({ code: "custom", message: "must be comma-separated durations such as 5s,30s,2m,1h" });
        return z.NEVER;
      }
      return list;
    }),
  /** Random spread of each retry delay, as a fraction: 0.1 means within ±10 %. */
  WEBHOOK_RETRY_JITTER: z.coerce.number().min(0).max(1).default(0.1),
  /** A subscription whose every attempt failed for this long is disabled. */
  WEBHOOK_DISABLE_AFTER: durationSetting("5d"),
  /** How long the previous secret keeps signing after a rotation. */
  WEBHOOK_SECRET_OVERLAP: durationSetting("24h"),
  /** Allow webhook URLs that resolve to loopback and private addresses (local development and tests only). */
  WEBHOOK_ALLOW_PRIVATE_URLS: z.preprocess(emptyAsUndefined, booleanFromEnv.default(false)),
  /** Allow plain-http webhook URLs for live subscriptions too (test-mode subscriptions may always use http). */
  WEBHOOK_ALLOW_HTTP: z.preprocess(emptyAsUndefined, booleanFromEnv.default(false)),
  /** How long a dispatcher holds a claimed delivery before another may take it; default: timeout + 30 s. */
  WEBHOOK_LEASE: z.preprocess(emptyAsUndefined, durationSetting("0ms").optional()),
  /** The dispatcher's safety-net poll, for notifications lost while its database connection was down. */
  WEBHOOK_POLL_INTERVAL: durationSetting("2s"),
  /**
   * After a round of claims that found deliveries, the dispatcher looks once more this much later (and again after
   * that look if it finds any): of the event transactions committing together only one sends the NOTIFY
   * (migration 0007), and the others may become visible just after the claim it caused. Nothing extra happens
   * while no deliveries come. 0 turns the extra look off (the NOTIFYs and the poll remain).
   */
  WEBHOOK_RECHECK_INTERVAL: durationSetting("20ms"),
  /**
   * While the dispatcher keeps up (its last claim took every due delivery it could), it claims at most once per this
   * interval: deliveries that commit in between are claimed together, each waiting up to the interval more. 0: claim
   * on every wake-up. At most a second: a longer wait would hold every delivery back for it.
   */
  WEBHOOK_CLAIM_INTERVAL: durationSetting("0ms").pipe(
    z.number().max(1_000, "at most 1s (each delivery may wait this long before it is claimed)"),
  ),
  /** Attempts in flight per dispatcher process, and per endpoint (subscription) within it. */
  WEBHOOK_CONCURRENCY: z.coerce.number().int().min(1).max(10_000).default(256),
  WEBHOOK_ENDPOINT_CONCURRENCY: z.coerce.number().int().min(1).max(1_000).default(16),
  /** Deliveries claimed per query (and outcomes recorded per transaction). */
  WEBHOOK_BATCH_SIZE: z.coerce.number().int().min(1).max(1_000).default(100),
  /**
   * The webhook-dispatcher Edge Function (Supabase) answers only requests carrying this in `x-dispatcher-secret`;
   * pg_cron and the queue trigger send it from Vault. Unused by the Node service.
   */
  WEBHOOK_DISPATCHER_SECRET: z.preprocess(
    emptyAsUndefined,
    z.string().min(24, "must be at least 24 characters (e.g. openssl rand -hex 32)").optional(),
  ),
  /** One invocation of the webhook-dispatcher Edge Function claims at most this many deliveries... */
  WEBHOOK_DISPATCH_MAX_DELIVERIES: z.coerce.number().int().min(1).max(100_000).default(1000),
  /** ...and stops claiming after this long (attempts started still finish), well within the Edge time limit. */
  WEBHOOK_DISPATCH_MAX_TIME: durationSetting("25s"),
  /** Requests per minute per API key when neither the key, its tenant nor the tenant's plan says otherwise. */
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).max(1_000_000).default(100),
  /** Per-plan limits, `plan=perMinute` pairs: `default=100,growth=600,enterprise=3000`. A tenant's `plan` picks one. */
  RATE_LIMIT_PLANS: z
    .string()
    .default("")
    .transform((text, ctx) => {
      const plans: Record<string, number> = {};
      for (const pair of text
        .split(",")
        .map((part) => part.trim())
        .filter(Boolean)) {
        const match = /^([A-Za-z0-9_-]{1,50})=(\d{1,7})$/.exec(pair);
        if (!match || Number(match[2]) < 1) {
          ctx.addIssue({ code: "custom", message: `"${pair}" is not plan=perMinute (a positive integer)` });
          return z.NEVER;
        }
        plans[match[1]!] = Number(match[2]);
      }
      return plans;
    }),
  /**
   * Failed authentications (unknown, revoked or expired API keys) per minute per client address. Beyond it the
   * address gets 429, and keys not in the verification cache are not looked up for it until the window allows
   * again; keys it used successfully a moment ago still work.
   */
  AUTH_FAILURE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).max(1_000_000).default(60),
  /**
   * Inbound requests (`/v1/inbound/{platform}/{id}`) per minute per client address that name no connector of the
   * platform (404). Beyond it the address gets 429 for connector ids not seen to exist a moment ago, without a
   * lookup; ids of existing connectors keep working, since platforms send every shop's webhooks from shared
   * addresses. 0 turns it off. Signature failures never count (they would let anyone block a connector).
   */
  INBOUND_FAILURE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).max(1_000_000).default(60),
  /** Requests per minute per client address on the public tracking endpoint. */
  TRACKING_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).max(1_000_000).default(60),
  /**
   * The IANA time zone in which the tracking page (the HTML a browser gets at an order's `tracking_url`) shows
   * times when the destination's own zone is not known: the page uses the zone of the destination's country (and
   * region, where a country spans several; src/domain/orders/time-zones.ts), and this one for a country not listed
   * there. The JSON view keeps its UTC timestamps.
   */
  TRACKING_PAGE_TIME_ZONE: z
    .string()
    .default("America/Bogota")
    .refine(
      (zone) => {
        try {
          new Intl.DateTimeFormat("en", { timeZone: zone });
          return true;
        } catch {
          return false;
        }
      },
      { message: "not an IANA time zone (e.g. America/Bogota, America/Mexico_City)" },
    ),
  /**
   * The header a trusted reverse proxy sets to the client's address (`x-forwarded-for`, `x-real-ip`, ...). Off by
   * default: without a proxy that overwrites it, any client could claim any address and dodge its limit.
   */
  TRUSTED_PROXY_HEADER: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .regex(/^[A-Za-z0-9-]{1,64}$/, "must be a header name")
      .transform((name) => name.toLowerCase())
      .optional(),
  ),
  /** For a list header such as X-Forwarded-For: how many proxies we run, i.e. which entry from the right to trust. */
  TRUSTED_PROXY_HOPS: z.coerce.number().int().min(1).max(10).default(1),
  /** With Redis unreachable: false (default) limits in memory per instance; true answers 503 until it is back. */
  RATE_LIMIT_FAIL_CLOSED: z.preprocess(emptyAsUndefined, booleanFromEnv.default(false)),
  /** Prefix of every rate-limit key in Redis, so several deployments (or test runs) can share one server. */
  RATE_LIMIT_REDIS_PREFIX: z.string().min(1).max(100).default("cellvi:rl:"),
  /** A Redis decision slower than this counts as an outage for that request (the fallback decides instead). */
  REDIS_COMMAND_TIMEOUT_MS: z.coerce.number().int().min(10).max(10_000).default(250),
  /**
   * Retention, in days (0: keep forever), applied hourly by the service (src/domain/retention.ts): webhook deliveries
   * that succeeded or failed for good (with their attempts), outbox events, and the drivers' GPS positions.
   */
  WEBHOOK_DELIVERY_RETENTION_DAYS: z.coerce.number().int().min(0).max(3650).default(30),
  EVENT_RETENTION_DAYS: z.coerce.number().int().min(0).max(3650).default(30),
  POSITION_RETENTION_DAYS: z.coerce.number().int().min(0).max(3650).default(90),
  /** How long a verified key stays in the in-memory cache. Revocations reach every instance sooner, by NOTIFY. */
  KEY_CACHE_TTL_SECONDS: z.coerce.number().int().min(0).max(3600).default(30),
  /** How often each instance also polls for key changes, the safety net for a NOTIFY lost while disconnected. */
  KEY_CHANGES_POLL_MS: z.coerce.number().int().min(100).max(60_000).default(1000),
  /** How often `last_used_at` is written, in one statement for all the keys used meanwhile. */
  KEY_USAGE_FLUSH_SECONDS: z.coerce.number().int().min(1).max(3600).default(15),
  /** Origins allowed to call keyed endpoints from a browser, comma-separated. Empty (default): none. */
  CORS_ALLOWED_ORIGINS: z
    .string()
    .default("")
    .transform((text) =>
      text
        .split(",")
        .map((origin) => origin.trim().replace(/\/+$/, ""))
        .filter(Boolean),
    )
    .pipe(z.array(z.url({ protocol: /^https?$/ }))),
  /**
   * Bearer token that opens `GET /metrics` on the API port. Unset (default): `/metrics` is not served there
   * (404), so nothing leaks by default; METRICS_PORT gives a scrape port for a private network instead.
   */
  METRICS_TOKEN: z.preprocess(
    emptyAsUndefined,
    z.string().min(16, "must be at least 16 characters").optional(),
  ),
  /** A second listener that serves only `GET /metrics`, without a token (bind it to a private address). */
  METRICS_PORT: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(0).max(65535).optional()),
  METRICS_HOST: z.string().min(1).default("127.0.0.1"),
  /**
   * A connection that sends and receives nothing for this long is closed (a stalled upload, a body trickled in to
   * hold the connection). There is no limit on a request's total time: a large import streams for as long as it
   * has rows (see src/http/server-timeouts.ts).
   */
  HTTP_IDLE_TIMEOUT_MS: z.coerce.number().int().min(1_000).max(3_600_000).default(120_000),
  /** On SIGTERM, how long in-flight requests and deliveries may take to finish before they are cut. */
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).max(600_000).default(25_000),
  /**
   * 32-byte key (64 hex digits or base64) that encrypts connector credentials at rest (AES-256-GCM). Required for
   * connectors when DATABASE_URL is set; on the embedded database it defaults to a key generated once and kept in
   * DATA_DIR/connector-encryption.key. Generate one with `openssl rand -base64 32`.
   */
  CONNECTOR_ENCRYPTION_KEY: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .transform((text, ctx) => {
        const key = parseKey(text);
        if (!key) {
          ctx.addIssue({ code: "custom", message: "must be 32 bytes as 64 hex digits or base64" });
          return z.NEVER;
        }
        return key;
      })
      .optional(),
  ),
  /** Earlier CONNECTOR_ENCRYPTION_KEY values, comma-separated: still decrypt, never encrypt (key rotation). */
  CONNECTOR_ENCRYPTION_PREVIOUS_KEYS: z
    .string()
    .default("")
    .transform((text, ctx) => {
      const keys: Buffer[] = [];
      const parts = text.split(",").map((item) => item.trim());
      for (const part of parts.filter(Boolean)) {
        const key = parseKey(part);
        if (!key) {
          ctx.addIssue({ code: "custom", message: "each entry must be 32 bytes as 64 hex digits or base64" });
          return z.NEVER;
        }
        keys.push(key);
      }
      return keys;
    }),
  /** Allow connector base URLs (VTEX OMS, Magento) on loopback and private addresses (local development and tests). */
  CONNECTOR_ALLOW_PRIVATE_URLS: z.preprocess(emptyAsUndefined, booleanFromEnv.default(false)),
  /** Per-request timeout of connector calls to platform APIs (VTEX OMS, Magento REST). */
  CONNECTOR_HTTP_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  /** How often the connector worker looks for due jobs when no notification woke it. */
  CONNECTOR_WORKER_POLL_MS: z.coerce.number().int().min(50).max(60_000).default(1000),
});

export type RawConfig = z.infer<typeof configSchema>;

export interface Config extends RawConfig {
  /** PUBLIC_BASE_URL without a trailing slash, defaulting to the local listener. */
  publicBaseUrl: string;
}

export class ConfigError extends Error {
  constructor(public readonly issues: string[]) {
    super(`Invalid configuration:\n${issues.map((line) => `  - ${line}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** Parses an environment record once. Throws a `ConfigError` naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`),
    );
  }
  const raw = parsed.data;
  const publicBaseUrl = (raw.PUBLIC_BASE_URL ?? `http://localhost:${raw.PORT}`).replace(/\/+$/, "");
  return { ...raw, publicBaseUrl };
}
