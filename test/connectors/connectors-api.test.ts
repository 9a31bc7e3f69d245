import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, type TestContext } from "../support/app.ts";
import { dbKinds, openTestDb } from "../support/db.ts";
import { connectorEnv, countRows, createConnector } from "./support.ts";

describe.each(dbKinds)("connector configuration API on %s", (kind) => {
  let t: TestContext;
  let key: string;
  let tenantId: string;
  beforeAll(async () => {
    t = await createTestContext(kind, { env: connectorEnv });
    ({ apiKey: key, tenantId } = await t.newTenant());
  });
  afterAll(() => t.close());

  it("creates a Shopify connector: inbound URL and setup to paste, the secret stored sealed and never returned", async () => {
    const connector = await createConnector(t, key, {
      platform: "shopify",
      name: "Tienda principal",
      credentials: { webhook_secret: "shpss_super_secret_value" },
      defaults: { package_weight_kg: 1, service_level: "express" },
    });
    expect(connector).toMatchObject({
      object: "connector",
      platform: "shopify",
      name: "Tienda principal",
      mode: "test",
      enabled: true,
      inbound_url: `http://cellvi.test/v1/inbound/shopify/${connector.id}`,
      external_id_prefix: "shopify:",
      defaults: { package_weight_kg: 1, service_level: "express" },
      credentials_set: ["webhook_secret"],
      generated_credentials: {},
      poll: null,
    });
    expect((connector.setup as string[]).join(" ")).toContain(connector.inbound_url);
    expect(JSON.stringify(connector)).not.toContain("shpss_super_secret_value");

    const fetched = await t.request(`/v1/connectors/${connector.id}`, { key });
    expect(fetched.status).toBe(200);
    const text = await fetched.text();
    expect(text).not.toContain("shpss_super_secret_value");
    expect(JSON.parse(text)).not.toHaveProperty("generated_credentials");

    const { rows } = await t.services.db.query<{ credentials_sealed: string }>(
      "select credentials_sealed from connectors where id = $1",
      [connector.id],
    );
    expect(rows[0]!.credentials_sealed).toMatch(/^v1\./);
    expect(rows[0]!.credentials_sealed).not.toContain("shpss");
  });

  it("generates the secrets a platform lets us choose, and shows them once", async () => {
    const woo = await createConnector(t, key, { platform: "woocommerce" });
    expect(woo.generated_credentials.webhook_secret).toMatch(/^cvh_[A-Za-z0-9_-]{32}$/);
    expect(woo.credentials_set).toEqual(["webhook_secret"]);
    expect(woo.settings).toEqual({ statuses: ["processing"] });
    const vtex = await createConnector(t, key, {
      platform: "vtex",
      settings: { account: "tiendacafe" },
      credentials: { app_key: "vtexappkey-tiendacafe-ABCDEF", app_token: "TOKEN" },
    });
    expect(vtex.generated_credentials).toEqual({ hook_token: expect.stringMatching(/^cvh_/) });
    expect(vtex.settings).toEqual({
      account: "tiendacafe",
      hook_header_name: "X-Cellvi-Hook-Token",
      states: ["ready-for-handling"],
    });
    expect((vtex.setup as string[]).join(" ")).toContain(
      "https://tiendacafe.vtexcommercestable.com.br/api/orders/hook/config",
    );
  });

  it("lists, filters, updates and deletes", async () => {
    const created = await createConnector(t, key, {
      platform: "woocommerce",
      name: "Segunda tienda",
      external_id_prefix: "woo2:",
    });
    const list = await (await t.request("/v1/connectors?platform=woocommerce", { key })).json();
    expect(list.data.map((c: { id: string }) => c.id)).toContain(created.id);
    expect(list.data.every((c: { platform: string }) => c.platform === "woocommerce")).toBe(true);

    const patched = await t.request(`/v1/connectors/${created.id}`, {
      method: "PATCH",
      key,
      json: {
        name: "Renombrada",
        enabled: false,
        defaults: { package_weight_kg: 2.5, packaging: "per_line" },
        settings: { statuses: ["processing", "on-hold"] },
        credentials: { webhook_secret: "a-new-secret-value" },
      },
    });
    expect(patched.status).toBe(200);
    const body = await patched.json();
    expect(body).toMatchObject({
      name: "Renombrada",
      enabled: false,
      defaults: { package_weight_kg: 2.5, packaging: "per_line" },
      settings: { statuses: ["processing", "on-hold"] },
      external_id_prefix: "woo2:",
    });
    expect(JSON.stringify(body)).not.toContain("a-new-secret-value");
    const removed = await (
      await t.request(`/v1/connectors/${created.id}`, {
        method: "PATCH",
        key,
        json: { defaults: { packaging: null } },
      })
    ).json();
    expect(removed.defaults).toEqual({ package_weight_kg: 2.5 });

    expect((await t.request(`/v1/connectors/${created.id}`, { method: "DELETE", key })).status).toBe(204);
    expect((await t.request(`/v1/connectors/${created.id}`, { key })).status).toBe(404);
    expect((await t.request(`/v1/connectors/${created.id}`, { method: "DELETE", key })).status).toBe(404);
  });

  it("rejects bad configurations with the field that is wrong", async () => {
    const noSecret = await t.request("/v1/connectors", {
      method: "POST",
      key,
      json: { platform: "shopify", credentials: {} },
    });
    expect(noSecret.status).toBe(400);
    expect((await noSecret.json()).errors).toContainEqual({
      path: "/credentials/webhook_secret",
      message: expect.any(String),
    });

    const unknown = await t.request("/v1/connectors", {
      method: "POST",
      key,
      json: { platform: "prestashop" },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.headers.get("content-type")).toContain("application/problem+json");

    const polling = await t.request("/v1/connectors", {
      method: "POST",
      key,
      json: { platform: "magento", settings: { poll_enabled: true } },
    });
    expect(polling.status).toBe(400);
    expect((await polling.json()).errors).toContainEqual({
      path: "/settings/base_url",
      message: "base_url is required when poll_enabled is true",
    });

    const vtex = await createConnector(t, key, {
      platform: "vtex",
      settings: { account: "tiendacafe" },
      credentials: { app_key: "k", app_token: "t" },
    });
    const badPatch = await t.request(`/v1/connectors/${vtex.id}`, {
      method: "PATCH",
      key,
      json: { settings: { hook_header_name: "Authorization" }, credentials: { app_key: null } },
    });
    expect(badPatch.status).toBe(400);
    const errors = (await badPatch.json()).errors.map((error: { path: string }) => error.path);
    expect(errors).toEqual(expect.arrayContaining(["/settings/hook_header_name", "/credentials/app_key"]));
  });

  it("refuses base URLs in our own network unless allowed", async () => {
    const strict = await createTestContext(kind, {
      env: { ...connectorEnv, CONNECTOR_ALLOW_PRIVATE_URLS: "false" },
    });
    try {
      const { apiKey } = await strict.newTenant();
      const response = await strict.request("/v1/connectors", {
        method: "POST",
        key: apiKey,
        json: {
          platform: "vtex",
          settings: { account: "tiendacafe", base_url: "http://169.254.169.254" },
          credentials: { app_key: "k", app_token: "t" },
        },
      });
      expect(response.status).toBe(400);
      expect((await response.json()).errors).toEqual([
        { path: "/settings/base_url", message: expect.stringContaining("not a public address") },
      ]);
    } finally {
      await strict.close();
    }
  });

  it("needs the connectors:manage scope, and isolates tenants and modes", async () => {
    const narrow = await t.newKey(tenantId, { scopes: ["orders:write", "orders:read"] });
    const forbidden = await t.request("/v1/connectors", { key: narrow.apiKey });
    expect(forbidden.status).toBe(403);
    expect((await forbidden.json()).required_scope).toBe("connectors:manage");
    expect((await t.request("/v1/connectors")).status).toBe(401);

    const mine = await createConnector(t, key, { platform: "woocommerce" });
    const other = await t.newTenant({ name: "Other" });
    expect((await t.request(`/v1/connectors/${mine.id}`, { key: other.apiKey })).status).toBe(404);
    expect(
      (await t.request(`/v1/connectors/${mine.id}`, { method: "DELETE", key: other.apiKey })).status,
    ).toBe(404);
    const live = await t.newKey(tenantId, { mode: "live", scopes: ["connectors:manage"] });
    expect((await t.request(`/v1/connectors/${mine.id}`, { key: live.apiKey })).status).toBe(404);
    const liveList = await (await t.request("/v1/connectors", { key: live.apiKey })).json();
    expect(liveList.data).toEqual([]);
    expect(await countRows(t, "connectors", "id = $1", [mine.id])).toBe(1);
  });
});

describe("connector encryption key", () => {
  it("is required on a server database: without it, storing credentials is a 503 naming the setting", async () => {
    const t = await createTestContext("postgres", {
      env: { DATABASE_URL: "postgres://unused@127.0.0.1:5432/unused", CONNECTOR_ENCRYPTION_KEY: "" },
    });
    try {
      const { apiKey } = await t.newTenant();
      const response = await t.request("/v1/connectors", {
        method: "POST",
        key: apiKey,
        json: { platform: "woocommerce" },
      });
      expect(response.status).toBe(503);
      expect((await response.json()).detail).toContain("CONNECTOR_ENCRYPTION_KEY");
    } finally {
      await t.close();
    }
  });

  it("is generated once under DATA_DIR on the embedded database and reused", async () => {
    const { mkdtempSync, readFileSync, statSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const dataDir = mkdtempSync(`${tmpdir()}/cellvi-connectors-`);
    const first = await createTestContext("embedded", {
      env: { DATA_DIR: dataDir, CONNECTOR_ENCRYPTION_KEY: "" },
    });
    try {
      const { apiKey } = await first.newTenant();
      const created = await first.request("/v1/connectors", {
        method: "POST",
        key: apiKey,
        json: { platform: "woocommerce" },
      });
      expect(created.status).toBe(201);
      const keyFile = `${dataDir}/connector-encryption.key`;
      expect(Buffer.from(readFileSync(keyFile, "utf8").trim(), "base64")).toHaveLength(32);
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      const { keyId, connectorKeyring } = await import("../../src/domain/connectors/secret-box.ts");
      const { loadConfig } = await import("../../src/config.ts");
      // A second process on the same DATA_DIR (a restart) reads the same key.
      const again = connectorKeyring(loadConfig({ DATA_DIR: dataDir }), "embedded");
      const firstRing = connectorKeyring(first.services.config, "embedded");
      expect(again?.currentId).toBe(firstRing?.currentId);
      expect(again?.currentId).toBe(keyId(Buffer.from(readFileSync(keyFile, "utf8").trim(), "base64")));
    } finally {
      await first.close();
    }
  });
});

describe("migration 0005", () => {
  it.each(dbKinds)("creates the connector tables on %s", async (kind) => {
    const testDb = await openTestDb(kind);
    try {
      const { rows } = await testDb.db.query<{ table_name: string }>(
        "select table_name from information_schema.tables where table_name in ('connectors','connector_deliveries','connector_jobs','order_imports') order by 1",
      );
      expect(rows.map((row) => row.table_name)).toEqual([
        "connector_deliveries",
        "connector_jobs",
        "connectors",
        "order_imports",
      ]);
    } finally {
      await testDb.close();
    }
  });
});

describe("credentials sealed with a key the deployment no longer has", () => {
  it("answers 503 naming the setting instead of failing obscurely", async () => {
    const t = await createTestContext("embedded", { env: connectorEnv });
    try {
      const { apiKey } = await t.newTenant();
      const connector = await createConnector(t, apiKey, { platform: "woocommerce" });
      const otherKey = { ...connectorEnv, CONNECTOR_ENCRYPTION_KEY: Buffer.alloc(32, 5).toString("base64") };
      const { loadConfig } = await import("../../src/config.ts");
      const { createApp } = await import("../../src/app.ts");
      const app = createApp({
        ...t.services,
        config: loadConfig({ PUBLIC_BASE_URL: "http://cellvi.test", LOG_LEVEL: "silent", ...otherKey }),
      });
      const response = await app.request(`http://cellvi.test/v1/inbound/woocommerce/${connector.id}`, {
        method: "POST",
        body: "{}",
        headers: { "content-type": "application/json" },
      });
      expect(response.status).toBe(503);
      expect((await response.json()).detail).toContain("CONNECTOR_ENCRYPTION_PREVIOUS_KEYS");
    } finally {
      await t.close();
    }
  });
});
