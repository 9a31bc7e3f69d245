import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  connectorEnv,
  createConnector,
  fixtureText,
  hmacBase64,
  inboundPath,
} from "../connectors/support.ts";
import { sharedRedisUrl, uniquePrefix } from "../ratelimit/limiters.ts";
import { createTestContext, type TestContext } from "../support/app.ts";
import { dbKinds } from "../support/db.ts";

// The throttle on inbound URLs that name no connector, on both databases, with the in-memory limiter and with the
// shared Redis (the one every instance counts in).
const cases = dbKinds.flatMap((kind) => [
  { kind, limiter: "memory", env: {} as Record<string, string> },
  {
    kind,
    limiter: "redis",
    env: { REDIS_URL: sharedRedisUrl, RATE_LIMIT_REDIS_PREFIX: uniquePrefix() } as Record<string, string>,
  },
]);

const secret = "shpss_inbound_failures";
const order = fixtureText("shopify/orders-create.json");

describe.each(cases)("unknown connectors per client address ($kind, $limiter limiter)", ({ kind, env }) => {
  let t: TestContext;
  let key: string;
  beforeAll(async () => {
    t = await createTestContext(kind, {
      env: {
        ...connectorEnv,
        ...env,
        INBOUND_FAILURE_LIMIT_PER_MINUTE: "3",
        TRUSTED_PROXY_HEADER: "x-forwarded-for",
      },
    });
    key = (await t.newTenant()).apiKey;
  });
  afterAll(() => t?.close());

  const newShopifyConnector = () =>
    createConnector(t, key, { platform: "shopify", credentials: { webhook_secret: secret } });

  /** A Shopify delivery to `path` from `address`, signed with the connectors' secret unless `signature` is given. */
  const deliver = (path: string, address: string, signature = hmacBase64(secret, order)) =>
    t.request(path, {
      method: "POST",
      body: order,
      headers: {
        "content-type": "application/json",
        "x-forwarded-for": address,
        "x-shopify-topic": "orders/create",
        "x-shopify-webhook-id": randomUUID(),
        "x-shopify-hmac-sha256": signature,
      },
    });
  const madeUp = () => `/v1/inbound/shopify/${randomUUID()}`;

  async function expectThrottled(response: Response) {
    expect(response.status).toBe(429);
    expect(response.headers.get("content-type")).toContain("application/problem+json");
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(response.headers.get("ratelimit-policy")).toBe('"inbound-failures";q=3;w=60');
    const problem = (await response.json()) as { code: string; detail: string; retry_after_seconds: number };
    expect(problem.code).toBe("quota_exceeded");
    expect(problem.retry_after_seconds).toBeGreaterThanOrEqual(1);
    return problem;
  }

  it("answers 404 up to the budget, then 429 without lookups, sparing known connectors and other addresses", async () => {
    const shop = "203.0.113.20";
    const known = await newShopifyConnector();
    expect((await deliver(inboundPath(known), shop)).status).toBe(200);

    // Three lookups that find nothing: made-up ids, and a real id under another platform's URL.
    expect((await deliver(madeUp(), shop)).status).toBe(404);
    expect((await deliver(inboundPath(known).replace("/shopify/", "/woocommerce/"), shop)).status).toBe(404);
    expect((await deliver(madeUp(), shop)).status).toBe(404);
    const over = await deliver(madeUp(), shop);
    expect((await expectThrottled(over)).detail).toMatch(/name unknown connectors 3 times per 60 s/);
    await expectThrottled(await deliver(madeUp(), shop));

    // No lookup is made for the address now: a connector created after the block exists, is signed for, and is
    // still refused, where a lookup would have found it and answered 200.
    const later = await newShopifyConnector();
    await expectThrottled(await deliver(inboundPath(later), shop));

    // The connector this process saw exist keeps receiving from the throttled address, and is still checked.
    expect((await deliver(inboundPath(known), shop)).status).toBe(200);
    expect((await deliver(inboundPath(known), shop, hmacBase64("wrong secret", order))).status).toBe(401);

    // Another address has its own budget, and reaches the new connector; from then on it is known here, so the
    // throttled address reaches it too.
    const other = "198.51.100.7";
    expect((await deliver(madeUp(), other)).status).toBe(404);
    expect((await deliver(inboundPath(later), other)).status).toBe(200);
    expect((await deliver(inboundPath(later), shop)).status).toBe(200);
  });

  it("does not count signature failures nor malformed ids", async () => {
    const address = "192.0.2.44";
    const connector = await newShopifyConnector();
    for (let i = 0; i < 6; i++) {
      expect((await deliver(inboundPath(connector), address, hmacBase64("forged", order))).status).toBe(401);
      expect((await deliver("/v1/inbound/shopify/not-a-connector-id", address)).status).toBe(404);
    }
    // The whole budget is still there.
    for (let i = 0; i < 3; i++) expect((await deliver(madeUp(), address)).status).toBe(404);
    await expectThrottled(await deliver(madeUp(), address));
    // A signature failure never throttles the connector itself.
    expect((await deliver(inboundPath(connector), "192.0.2.45")).status).toBe(200);
  });

  it("counts a deleted connector's deliveries, without cutting off the other shops behind the address", async () => {
    const platformAddress = "203.0.113.99";
    const stays = await newShopifyConnector();
    const deleted = await newShopifyConnector();
    expect((await deliver(inboundPath(stays), platformAddress)).status).toBe(200);
    expect((await deliver(inboundPath(deleted), platformAddress)).status).toBe(200);
    const table = `deleted_${deleted.id.replaceAll("-", "")}`;
    await t.services.db.query(`create table ${table} as select * from connectors where id = $1`, [
      deleted.id,
    ]);
    const removed = await t.request(`/v1/connectors/${deleted.id}`, { method: "DELETE", key });
    expect(removed.status).toBe(204);

    for (let i = 0; i < 3; i++)
      expect((await deliver(inboundPath(deleted), platformAddress)).status).toBe(404);
    await expectThrottled(await deliver(inboundPath(deleted), platformAddress));
    expect((await deliver(inboundPath(stays), platformAddress)).status).toBe(200);

    // The deleted id is no longer exempt: with its row put back, it is refused without being looked up.
    await t.services.db.query(`insert into connectors select * from ${table}`);
    await expectThrottled(await deliver(inboundPath(deleted), platformAddress));
    expect((await deliver(inboundPath(deleted), "198.51.100.99")).status).toBe(200);
  });
});

describe("INBOUND_FAILURE_LIMIT_PER_MINUTE=0", () => {
  let t: TestContext;
  beforeAll(async () => {
    t = await createTestContext("embedded", {
      env: {
        ...connectorEnv,
        INBOUND_FAILURE_LIMIT_PER_MINUTE: "0",
        TRUSTED_PROXY_HEADER: "x-forwarded-for",
      },
    });
  });
  afterAll(() => t?.close());

  it("turns the throttle off", async () => {
    expect(t.services.config.INBOUND_FAILURE_LIMIT_PER_MINUTE).toBe(0);
    for (let i = 0; i < 10; i++) {
      const response = await t.request(`/v1/inbound/vtex/${randomUUID()}`, {
        method: "POST",
        body: "{}",
        headers: { "content-type": "application/json", "x-forwarded-for": "203.0.113.5" },
      });
      expect(response.status).toBe(404);
    }
  });
});
