import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { executeCommand } from "../../src/cli/execute.ts";
import { loadConfig } from "../../src/config.ts";
import { connectorKeyring } from "../../src/domain/connectors/secret-box.ts";
import { openCredentials } from "../../src/domain/connectors/store.ts";
import { openWebhookSecret } from "../../src/domain/webhooks/sealed-secrets.ts";
import { generateWebhookSecret } from "../../src/domain/webhooks/secrets.ts";
import { createSubscription } from "../../src/domain/webhooks/subscriptions.ts";
import { createTestContext, type TestContext } from "../support/app.ts";
import { dbKinds } from "../support/db.ts";
import { connectorEnv, fixtureText, hmacBase64, testEncryptionKey } from "./support.ts";

describe.each(dbKinds)("connectors CLI on %s", (kind) => {
  let t: TestContext;
  let tenantId: string;
  beforeAll(async () => {
    t = await createTestContext(kind, { env: connectorEnv });
    ({ tenantId } = await t.newTenant());
  });
  afterAll(() => t.close());

  async function cli(...argv: string[]) {
    const outcome = await executeCommand(t.services, argv);
    return {
      ...outcome,
      json: outcome.exitCode === 0 && argv.includes("--json") ? JSON.parse(outcome.stdout) : undefined,
    };
  }

  it("creates a connector and prints its inbound URL and generated secret once", async () => {
    const text = await cli(
      "connectors",
      "create",
      "--tenant",
      tenantId,
      "--platform",
      "woocommerce",
      "--name",
      "Tienda",
    );
    expect(text.exitCode).toBe(0);
    expect(text.stdout).toMatch(
      /Inbound URL \(paste it into woocommerce\):\n\n {2}http:\/\/cellvi\.test\/v1\/inbound\/woocommerce\/[0-9a-f-]{36}/,
    );
    expect(text.stdout).toMatch(/webhook_secret: cvh_/);

    const created = await cli(
      "connectors",
      "create",
      "--tenant",
      tenantId,
      "--platform",
      "shopify",
      "--credentials",
      '{"webhook_secret":"shpss_cli_secret"}',
      "--defaults",
      '{"package_weight_kg":1}',
      "--json",
    );
    expect(created.json.connector).toMatchObject({
      platform: "shopify",
      mode: "test",
      defaults: { package_weight_kg: 1 },
      credentials_set: ["webhook_secret"],
    });
    expect(created.stdout).not.toContain("shpss_cli_secret");
    const id = created.json.connector.id as string;

    const list = await cli("connectors", "list", "--tenant", tenantId, "--json");
    expect(list.json.connectors.map((c: { id: string }) => c.id)).toContain(id);
    const show = await cli("connectors", "show", id);
    expect(show.stdout).toContain(`inbound_url          http://cellvi.test/v1/inbound/shopify/${id}`);
    expect(show.stdout).not.toContain("shpss_cli_secret");

    // A delivery shows up in `connectors deliveries`.
    const body = fixtureText("shopify/orders-create.json");
    await t.request(`/v1/inbound/shopify/${id}`, {
      method: "POST",
      body,
      headers: {
        "content-type": "application/json",
        "x-shopify-webhook-id": "cli-1",
        "x-shopify-hmac-sha256": hmacBase64("shpss_cli_secret", body),
      },
    });
    const deliveries = await cli("connectors", "deliveries", id);
    expect(deliveries.stdout).toMatch(/created\s+5861234567890/);

    expect((await cli("connectors", "disable", id)).stdout).toContain("disabled");
    expect((await cli("connectors", "show", id, "--json")).json.connector.enabled).toBe(false);
    expect((await cli("connectors", "enable", id)).stdout).toContain("enabled");
    expect((await cli("connectors", "delete", id)).stdout).toContain("deleted");
    expect((await cli("connectors", "show", id)).exitCode).toBe(2);
  });

  it("explains bad input", async () => {
    const badJson = await cli(
      "connectors",
      "create",
      "--tenant",
      tenantId,
      "--platform",
      "shopify",
      "--credentials",
      "{nope",
    );
    expect(badJson).toMatchObject({
      exitCode: 2,
      stderr: expect.stringContaining("--credentials must be a JSON object"),
    });
    const invalid = await cli(
      "connectors",
      "create",
      "--tenant",
      tenantId,
      "--platform",
      "vtex",
      "--settings",
      "{}",
    );
    expect(invalid.exitCode).toBe(2);
    expect(invalid.stderr).toContain("/settings/account");
    expect(
      (await cli("connectors", "create", "--tenant", tenantId, "--platform", "prestashop")).stderr,
    ).toContain("--platform must be one of");
    expect((await cli("connectors", "poll", "00000000-0000-4000-8000-000000000000")).exitCode).toBe(2);
  });

  it("re-seals every connector's credentials and webhook signing secret after a key rotation", async () => {
    const hookSecret = generateWebhookSecret();
    const subscription = await createSubscription(
      t.services.db,
      connectorKeyring(t.services.config, kind)!,
      { tenantId, mode: "test" },
      { url: "https://hooks.example.com/x", events: ["*"], secret: hookSecret },
    );
    if (subscription.kind !== "created") throw new Error("not created");
    const created = await cli(
      "connectors",
      "create",
      "--tenant",
      tenantId,
      "--platform",
      "woocommerce",
      "--json",
    );
    const id = created.json.connector.id as string;
    const secret = created.json.generated_credentials.webhook_secret as string;
    const newKey = Buffer.alloc(32, 9).toString("base64");
    const rotated = {
      ...t.services,
      config: loadConfig({
        ...connectorEnv,
        CONNECTOR_ENCRYPTION_KEY: newKey,
        CONNECTOR_ENCRYPTION_PREVIOUS_KEYS: testEncryptionKey,
      }),
    };
    const outcome = await executeCommand(rotated, ["connectors", "rotate-key", "--json"]);
    expect(outcome.exitCode).toBe(0);
    const report = JSON.parse(outcome.stdout);
    expect(report.resealed).toBe(report.connectors);
    const { rows } = await t.services.db.query<{ id: string; credentials_sealed: string }>(
      "select id, credentials_sealed from connectors where id = $1",
      [id],
    );
    const onlyNew = connectorKeyring(loadConfig({ CONNECTOR_ENCRYPTION_KEY: newKey }), kind)!;
    expect(openCredentials(onlyNew, rows[0]!)).toEqual({ webhook_secret: secret });
    // The same key seals webhook signing secrets: the previous key may go only once they are re-sealed too.
    expect(report.webhook_secrets_resealed).toBe(1);
    const hook = await t.services.db.query<{ secret: string }>(
      "select secret from webhook_subscriptions where id = $1",
      [subscription.subscription.id],
    );
    expect(openWebhookSecret(onlyNew, subscription.subscription.id, "secret", hook.rows[0]!.secret)).toBe(
      hookSecret,
    );
    const again = JSON.parse((await executeCommand(rotated, ["connectors", "rotate-key", "--json"])).stdout);
    expect(again.resealed).toBe(0);
    expect(again.webhook_secrets_resealed).toBe(0);
  });

  it("shows the job queue", async () => {
    const jobs = await cli("connectors", "jobs", "--json");
    expect(jobs.json).toEqual({ jobs: [] });
  });
});
