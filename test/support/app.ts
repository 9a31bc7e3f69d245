import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { pino } from "pino";
import type { DbKind } from "../../src/adapters/db/types.ts";
import type { WebhookSender } from "../../src/adapters/sender/types.ts";
import { createApp } from "../../src/app.ts";
import { createWebhookSender } from "../../src/bootstrap.ts";
import { type Config, loadConfig } from "../../src/config.ts";
import { createKeyring, type Keyring } from "../../src/domain/connectors/secret-box.ts";
import type { KeyMode } from "../../src/domain/keys/format.ts";
import type { Scope } from "../../src/domain/keys/scopes.ts";
import { createApiKey } from "../../src/domain/keys/store.ts";
import { createTenant } from "../../src/domain/tenants/store.ts";
import { buildAuthServices } from "../../src/http/auth-services.ts";
import type { App } from "../../src/http/context.ts";
import { nodeServerOptions } from "../../src/http/node-response.ts";
import { createMetrics } from "../../src/observability/metrics.ts";
import { type Clock, type Services, systemClock } from "../../src/services.ts";
import { openTestDb, type TestDb } from "./db.ts";

export interface TestContext {
  app: App;
  services: Services;
  testDb: TestDb;
  /** Sends a request through the whole app, in process (no socket). */
  request(path: string, init?: RequestInit & { json?: unknown; key?: string }): Promise<Response>;
  /** A new tenant with its first key (all customer scopes), in the given mode (default test). */
  newTenant(options?: { name?: string; mode?: KeyMode }): Promise<{ tenantId: string; apiKey: string }>;
  /** Another key for an existing tenant. */
  newKey(
    tenantId: string,
    options?: { mode?: KeyMode; scopes?: Scope[] },
  ): Promise<{ keyId: string; apiKey: string }>;
  close(): Promise<void>;
}

export interface TestContextOptions {
  env?: Record<string, string>;
  clock?: Clock;
  /** Stands in for the HTTP webhook sender (e.g. the recording twin); default: the real one. */
  webhookSender?: WebhookSender;
}

/** The sealing key of test apps (32 bytes of 7, as test/connectors/support.ts has it). */
export const testSealingKey = Buffer.alloc(32, 7).toString("base64");

/** The keyring of `testSealingKey`, for tests that write subscriptions without an app. */
export function testKeyring(): Keyring {
  return createKeyring(Buffer.alloc(32, 7));
}

/** The whole app on a fresh database of the given kind, with a silent logger. */
export async function createTestContext(
  kind: DbKind,
  options: TestContextOptions = {},
): Promise<TestContext> {
  const testDb = await openTestDb(kind);
  const config: Config = loadConfig({
    PUBLIC_BASE_URL: "http://cellvi.test",
    LOG_LEVEL: "silent",
    // Generous limits so tests that send many requests with one key are not throttled; rate-limit tests set
    // their own.
    RATE_LIMIT_PER_MINUTE: "100000",
    TRACKING_RATE_LIMIT_PER_MINUTE: "100000",
    AUTH_FAILURE_LIMIT_PER_MINUTE: "100000",
    INBOUND_FAILURE_LIMIT_PER_MINUTE: "100000",
    // A fixed key seals connector credentials and webhook signing secrets, so no test writes a key file and the
    // server-database tests can store secrets; a test of the keyless cases sets it to "".
    CONNECTOR_ENCRYPTION_KEY: testSealingKey,
    ...options.env,
  });
  const logger = pino({ level: "silent" });
  const clock = options.clock ?? systemClock;
  // The in-memory rate limiter unless the test's env sets REDIS_URL (the process environment is never read here).
  const auth = await buildAuthServices(config, { db: testDb.db, logger, clock });
  const services: Services = {
    config,
    db: testDb.db,
    logger,
    clock,
    metrics: createMetrics(),
    rateLimiter: auth.rateLimiter,
    keyVerifier: auth.keyVerifier,
    webhookSender: options.webhookSender ?? createWebhookSender(config),
  };
  const app = createApp(services);
  return {
    app,
    services,
    testDb,
    request(path, init = {}) {
      const { json, key, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (key) headers.set("authorization", `Bearer ${key}`);
      let body = rest.body;
      if (json !== undefined) {
        headers.set("content-type", "application/json");
        body = JSON.stringify(json);
      }
      return Promise.resolve(
        app.request(`http://cellvi.test${path}`, {
          ...rest,
          headers,
          ...(body !== undefined ? { body } : {}),
        }),
      );
    },
    async newTenant(tenantOptions = {}) {
      const created = await createTenant(testDb.db, {
        name: tenantOptions.name ?? "Test Tenant",
        mode: tenantOptions.mode ?? "test",
      });
      return { tenantId: created.tenant.id, apiKey: created.apiKey };
    },
    async newKey(tenantId, keyOptions = {}) {
      const { key, apiKey } = await createApiKey(testDb.db, {
        tenantId,
        mode: keyOptions.mode ?? "test",
        scopes: keyOptions.scopes ?? [
          "orders:write",
          "orders:read",
          "webhooks:manage",
          "connectors:manage",
          "keys:manage",
        ],
      });
      return { keyId: key.id, apiKey };
    },
    async close() {
      await services.webhookSender.close();
      await auth.close();
      await testDb.close();
    },
  };
}

/** A valid order body; override any field. */
export function orderBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    external_id: `SO-${Math.random().toString(36).slice(2, 10)}`,
    recipient: { name: "Valentina Gómez", phone: "+573001234567", email: "valentina@example.com" },
    destination: {
      address_line1: "Carrera 7 # 71-21",
      city: "Bogotá",
      country: "CO",
      latitude: 4.6561,
      longitude: -74.0552,
    },
    packages: [{ weight_kg: 1.2 }],
    ...overrides,
  };
}

/**
 * The app behind a real Node HTTP server (`@hono/node-server`, as `npm start` serves it) on an ephemeral loopback
 * port, for what only a socket shows: the peer address, request framing, headers written by the Node path.
 */
export async function serveOnNode(
  app: App,
  options: { plainServerResponse?: boolean } = {},
): Promise<{ base: string; port: number; close(): Promise<void> }> {
  // As src/server.ts serves it, unless the test asks for Node's own ServerResponse.
  const server = serve({
    fetch: app.fetch,
    port: 0,
    hostname: "127.0.0.1",
    serverOptions: options.plainServerResponse ? {} : nodeServerOptions,
  });
  await new Promise((resolve) => server.once("listening", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    base: `http://127.0.0.1:${port}`,
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
