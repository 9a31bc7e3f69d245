import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTenant } from "../../src/domain/tenants/store.ts";
import { connectorEnv, FakePlatform, fixtureJson, fixtureText } from "../connectors/support.ts";
import { openTestDb, type TestDb } from "../support/db.ts";
import { type RunningEntry, startEntry } from "./entries.ts";
import { type ContractTarget, defineContractSuite, type TranscriptEntry } from "./suite.ts";

// The same HTTP contract, run against the Node server (`npm start`) and against the two Supabase Edge Functions
// started under Deno (the api-gateway serving the API, the webhook-dispatcher delivering), each on its own fresh
// PostgreSQL database and with the machine's Redis for rate limits. Then the two transcripts must be identical.

const redisUrl = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const dispatcherSecret = `contract-${randomUUID()}`;

/** Settings both runtimes get: loopback webhook receivers allowed, rate limits in Redis under a private prefix. */
function sharedEnv(databaseUrl: string): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    RATE_LIMIT_REDIS_PREFIX: `cellvi:contract:${randomUUID()}:`,
    PUBLIC_BASE_URL: "http://cellvi.contract.test",
    WEBHOOK_ALLOW_PRIVATE_URLS: "true",
    // Connector credentials sealed with a fixed key; fake platform APIs listen on loopback.
    ...connectorEnv,
    LOG_LEVEL: "warn",
  };
}

const transcripts: Record<"node" | "deno", TranscriptEntry[]> = { node: [], deno: [] };

describe("the contract on the Node server", () => {
  let testDb: TestDb;
  let server: RunningEntry;

  beforeAll(async () => {
    testDb = await openTestDb("postgres");
    server = await startEntry("node-server", {
      ...sharedEnv(testDb.url!),
      RUN_WORKER: "true",
      LOG_LEVEL: "info",
    });
  });
  afterAll(async () => {
    await server?.stop();
    await testDb?.close();
  });

  defineContractSuite(
    (): ContractTarget => ({
      baseUrl: server.baseUrl,
      db: testDb.db,
      // The in-process worker is woken by NOTIFY when the delivery is queued: nothing to do.
      dispatch: async () => {},
    }),
    transcripts.node,
  );
});

describe("the contract on the Supabase Edge Functions (Deno)", () => {
  let testDb: TestDb;
  let gateway: RunningEntry;
  let dispatcher: RunningEntry;

  beforeAll(async () => {
    // Migrated here, as `supabase db push` does before deploying: the functions never migrate.
    testDb = await openTestDb("postgres");
    const env = { ...sharedEnv(testDb.url!), WEBHOOK_DISPATCHER_SECRET: dispatcherSecret };
    [gateway, dispatcher] = await Promise.all([
      startEntry("deno-api-gateway", { ...env, LOG_LEVEL: "info" }),
      startEntry("deno-webhook-dispatcher", { ...env, LOG_LEVEL: "info" }, "/healthz"),
    ]);
  });
  afterAll(async () => {
    await Promise.all([gateway?.stop(), dispatcher?.stop()]);
    await testDb?.close();
  });

  defineContractSuite(
    (): ContractTarget => ({
      baseUrl: gateway.baseUrl,
      db: testDb.db,
      // What pg_cron and the queue trigger do on Supabase: POST to the function with the shared secret.
      async dispatch() {
        const response = await fetch(`${dispatcher.baseUrl}/`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-dispatcher-secret": dispatcherSecret },
          body: JSON.stringify({ reason: "contract" }),
        });
        expect(response.status).toBe(200);
        await response.body?.cancel();
      },
    }),
    transcripts.deno,
  );

  describe("the webhook-dispatcher function itself", () => {
    it("refuses an invocation without the secret, or with a wrong one (401)", async () => {
      const attempts: Record<string, string>[] = [
        {},
        { "x-dispatcher-secret": "wrong-secret-wrong-secret-wrong" },
      ];
      for (const headers of attempts) {
        const response = await fetch(`${dispatcher.baseUrl}/`, { method: "POST", headers });
        expect(response.status).toBe(401);
        expect(response.headers.get("content-type")).toContain("application/problem+json");
        expect(((await response.json()) as { code: string }).code).toBe("unauthorized");
      }
    });

    it("accepts the path Supabase gives it (/webhook-dispatcher) and reports its batch", async () => {
      const response = await fetch(`${dispatcher.baseUrl}/webhook-dispatcher`, {
        method: "POST",
        headers: { "x-dispatcher-secret": dispatcherSecret },
      });
      expect(response.status).toBe(200);
      const batch = (await response.json()) as Record<string, unknown>;
      expect(batch).toMatchObject({
        claimed: expect.any(Number),
        succeeded: expect.any(Number),
        more: false,
      });
    });

    it("runs due connector jobs: a VTEX order notified through the gateway is fetched and created", async () => {
      const omsOrder = fixtureJson<Record<string, unknown>>("vtex/oms-order.json");
      const oms = await new FakePlatform((request) => {
        const match = /^\/api\/oms\/pvt\/orders\/([^/?]+)$/.exec(request.url);
        return match
          ? { status: 200, body: { ...omsOrder, orderId: decodeURIComponent(match[1]!) } }
          : { status: 404, body: { error: "no route" } };
      }).start();
      try {
        const { apiKey } = await createTenant(testDb.db, { name: "Connector Tenant", mode: "test" });
        const auth = { authorization: `Bearer ${apiKey}`, "content-type": "application/json" };
        const created = await fetch(`${gateway.baseUrl}/v1/connectors`, {
          method: "POST",
          headers: auth,
          body: JSON.stringify({
            platform: "vtex",
            settings: { account: "tiendacafe", base_url: oms.url },
            credentials: { app_key: "vtexappkey-tiendacafe-ABCDEF", app_token: "APP-TOKEN-SECRET" },
          }),
        });
        expect(created.status).toBe(201);
        const connector = (await created.json()) as {
          id: string;
          inbound_url: string;
          generated_credentials: { hook_token: string };
        };
        const hook = await fetch(`${gateway.baseUrl}${new URL(connector.inbound_url).pathname}`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "x-cellvi-hook-token": connector.generated_credentials.hook_token,
          },
          body: fixtureText("vtex/hook-ready-for-handling.json"),
        });
        expect(hook.status).toBe(200);
        // The gateway only queues the fetch; the OMS is read by the dispatcher's invocation.
        expect(oms.requests).toHaveLength(0);

        const invoked = await fetch(`${dispatcher.baseUrl}/`, {
          method: "POST",
          headers: { "x-dispatcher-secret": dispatcherSecret },
        });
        expect(invoked.status).toBe(200);
        expect(((await invoked.json()) as { connector_jobs: unknown }).connector_jobs).toEqual({
          ran: 1,
          failed: 0,
        });
        expect(oms.requests.map((request) => request.url)).toEqual(["/api/oms/pvt/orders/1389581234567-01"]);

        const deliveries = (await (
          await fetch(`${gateway.baseUrl}/v1/connectors/${connector.id}/deliveries`, { headers: auth })
        ).json()) as { data: { status: string; order_id: string }[] };
        expect(deliveries.data[0]).toMatchObject({ status: "created" });
        const order = await fetch(`${gateway.baseUrl}/v1/orders/${deliveries.data[0]!.order_id}`, {
          headers: auth,
        });
        expect(order.status).toBe(200);
        expect(await order.json()).toMatchObject({ external_id: "vtex:1389581234567-01" });
      } finally {
        await oms.stop();
      }
    });

    it("answers GET with 405 and Allow: POST", async () => {
      const response = await fetch(`${dispatcher.baseUrl}/`);
      expect(response.status).toBe(405);
      expect(response.headers.get("allow")).toBe("POST");
      await response.body?.cancel();
    });
  });

  it("serves the API under the function's own path prefix too (/api-gateway/...)", async () => {
    const response = await fetch(`${gateway.baseUrl}/api-gateway/healthz`);
    expect(response.status).toBe(200);
    await response.body?.cancel();
  });
});

describe("Node and Deno", () => {
  it("give the same results, exchange by exchange", () => {
    expect(transcripts.deno.length).toBeGreaterThan(20);
    expect(transcripts.deno).toEqual(transcripts.node);
  });
});
