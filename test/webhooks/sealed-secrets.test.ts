import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createRecordingWebhookSender } from "../../src/adapters/sender/recording.ts";
import { createApp } from "../../src/app.ts";
import { loadConfig } from "../../src/config.ts";
import { createKeyring } from "../../src/domain/connectors/secret-box.ts";
import { housekeep } from "../../src/domain/retention.ts";
import { runDispatchBatch } from "../../src/domain/webhooks/dispatcher.ts";
import {
  sealStoredSecrets,
  sealWebhookSecret,
  WebhookSecretOpener,
} from "../../src/domain/webhooks/sealed-secrets.ts";
import { generateWebhookSecret } from "../../src/domain/webhooks/secrets.ts";
import type { Services } from "../../src/services.ts";
import { createTestContext, type TestContext, testSealingKey } from "../support/app.ts";
import { dbKinds } from "../support/db.ts";
import { insertOrdersWithSql, manualClock, verifyWithLibrary } from "./support.ts";

const urlA = "https://a.example.com/hooks";
const urlB = "https://b.example.com/hooks";
const otherKey = Buffer.alloc(32, 9).toString("base64");

interface StoredSecrets {
  secret: string;
  previous_secret: string | null;
}

describe.each(dbKinds)("webhook signing secrets at rest on %s", (kind) => {
  let t: TestContext;
  const sender = createRecordingWebhookSender({
    hosts: { "a.example.com": ["93.184.215.14"], "b.example.com": ["93.184.215.15"] },
  });

  beforeAll(async () => {
    t = await createTestContext(kind, { webhookSender: sender });
  });
  afterAll(() => t.close());

  async function subscribe(apiKey: string, url = urlA): Promise<{ id: string; secret: string }> {
    const res = await t.request("/v1/webhooks/subscribe", {
      method: "POST",
      key: apiKey,
      json: { url, events: ["*"] },
    });
    expect(res.status).toBe(201);
    return res.json();
  }

  async function stored(id: string): Promise<StoredSecrets> {
    const { rows } = await t.services.db.query<StoredSecrets>(
      "select secret, previous_secret from webhook_subscriptions where id = $1",
      [id],
    );
    return rows[0]!;
  }

  /** One order through the outbox, dispatched once; what was sent for it, per URL. */
  async function deliverOne(tenantId: string, services: Services = t.services) {
    const before = sender.requests.length;
    await insertOrdersWithSql(t.services.db, tenantId, "test", 1);
    await runDispatchBatch(services, { maxDeliveries: 100, maxMillis: 10_000 });
    return sender.requests.slice(before);
  }

  async function lastDelivery(subscriptionId: string) {
    const { rows } = await t.services.db.query<{
      status: string;
      attempts: number;
      last_error: string | null;
    }>(
      "select status, attempts, last_error from webhook_deliveries where subscription_id = $1 order by seq desc limit 1",
      [subscriptionId],
    );
    return rows[0]!;
  }

  it("stores the secret sealed, and deliveries verify with the plain secret the API returned", async () => {
    const tenant = await t.newTenant();
    const created = await subscribe(tenant.apiKey);
    const row = await stored(created.id);
    expect(row.secret).toMatch(/^v1\.[0-9a-f]{12}\./);
    expect(row.secret).not.toContain(created.secret.slice("whsec_".length, 20));
    const [sent, ...more] = await deliverOne(tenant.tenantId);
    expect(more).toEqual([]);
    expect(verifyWithLibrary(created.secret, { headers: sent!.headers, body: sent!.body })).toMatchObject({
      type: "ORDER_CREATED",
    });
  });

  it("seals both secrets of a rotation, and both sign during the overlap", async () => {
    const tenant = await t.newTenant();
    const created = await subscribe(tenant.apiKey);
    const res = await t.request(`/v1/webhooks/${created.id}/rotate-secret`, {
      method: "POST",
      key: tenant.apiKey,
    });
    expect(res.status).toBe(200);
    const rotated = await res.json();
    const row = await stored(created.id);
    for (const value of [row.secret, row.previous_secret!]) {
      expect(value).toMatch(/^v1\./);
      expect(value).not.toContain(created.secret.slice(6, 20));
      expect(value).not.toContain(rotated.secret.slice(6, 20));
    }
    const [sent] = await deliverOne(tenant.tenantId);
    expect(sent!.headers["webhook-signature"]!.split(" ")).toHaveLength(2);
    for (const secret of [rotated.secret, created.secret]) {
      expect(verifyWithLibrary(secret, { headers: sent!.headers, body: sent!.body })).toMatchObject({
        type: "ORDER_CREATED",
      });
    }
  });

  it("keeps signing with a plain secret written before sealing, and the sealing step seals it", async () => {
    const tenant = await t.newTenant();
    const plain = generateWebhookSecret();
    const plainPrevious = generateWebhookSecret();
    const { rows } = await t.services.db.query<{ id: string }>(
      `insert into webhook_subscriptions (tenant_id, mode, url, events, secret, previous_secret,
                                          previous_secret_expires_at)
       values ($1, 'test', $2, '{*}', $3, $4, now() + interval '1 hour') returning id`,
      [tenant.tenantId, urlA, plain, plainPrevious],
    );
    const id = rows[0]!.id;
    const [before] = await deliverOne(tenant.tenantId);
    expect(verifyWithLibrary(plain, { headers: before!.headers, body: before!.body })).toBeTruthy();

    // The hourly housekeeping (the Node timer and the Edge Function) runs the sealing step.
    await housekeep(t.services);
    const row = await stored(id);
    expect(row.secret).toMatch(/^v1\./);
    expect(row.previous_secret).toMatch(/^v1\./);
    expect(JSON.stringify(row)).not.toContain(plain.slice(6, 20));
    expect(JSON.stringify(row)).not.toContain(plainPrevious.slice(6, 20));
    const [after] = await deliverOne(tenant.tenantId);
    for (const secret of [plain, plainPrevious]) {
      expect(verifyWithLibrary(secret, { headers: after!.headers, body: after!.body })).toBeTruthy();
    }
    // Nothing left to seal: a second run changes nothing.
    const keyring = createKeyring(Buffer.from(testSealingKey, "base64"));
    const again = await sealStoredSecrets(t.services.db, keyring);
    expect(again).toEqual({ sealed: 0, unopenable: 0 });
    expect(await stored(id)).toEqual(row);
  });

  it("does not open a sealed value moved onto another subscription or column: the delivery fails visibly, unsent", async () => {
    const tenant = await t.newTenant();
    const a = await subscribe(tenant.apiKey, urlA);
    const b = await subscribe(tenant.apiKey, urlB);
    await t.services.db.query(
      "update webhook_subscriptions set secret = (select secret from webhook_subscriptions where id = $1) where id = $2",
      [a.id, b.id],
    );
    const sent = await deliverOne(tenant.tenantId);
    expect(sent.map((request) => request.url)).toEqual([urlA]);
    const failed = await lastDelivery(b.id);
    // Given back: an attempt that sent nothing does not count (the delivery waits; see the next describe).
    expect(failed).toMatchObject({ status: "pending", attempts: 0 });
    expect(failed.last_error).toMatch(/signing secret cannot be opened.*does not authenticate/);
    const attempts = await t.services.db.query<{ outcome: string; error: string }>(
      "select a.outcome, a.error from webhook_attempts a join webhook_deliveries d on d.id = a.delivery_id where d.subscription_id = $1",
      [b.id],
    );
    expect(attempts.rows).toEqual([{ outcome: "failed", error: expect.stringMatching(/cannot be opened/) }]);
    // Our failure, not the endpoint's: no failure streak, which would end in disabling the customer's subscription.
    const streak = await t.services.db.query(
      "select failing_since from webhook_subscriptions where id = $1",
      [b.id],
    );
    expect(streak.rows).toEqual([{ failing_since: null }]);

    // The previous secret's value in the current secret's column does not open either.
    const c = await subscribe(tenant.apiKey, urlB);
    await t.request(`/v1/webhooks/${c.id}/rotate-secret`, { method: "POST", key: tenant.apiKey });
    await t.request(`/v1/webhooks/${b.id}`, { method: "DELETE", key: tenant.apiKey });
    await t.services.db.query("update webhook_subscriptions set secret = previous_secret where id = $1", [
      c.id,
    ]);
    expect(await deliverOne(tenant.tenantId)).toEqual([expect.objectContaining({ url: urlA })]);
    expect((await lastDelivery(c.id)).last_error).toMatch(/cannot be opened/);
  });

  it("names the setting when the configured key is not the one that sealed the secret", async () => {
    const tenant = await t.newTenant();
    const created = await subscribe(tenant.apiKey);
    const config = loadConfig({
      PUBLIC_BASE_URL: "http://cellvi.test",
      LOG_LEVEL: "silent",
      CONNECTOR_ENCRYPTION_KEY: otherKey,
    });
    const wrongKey: Services = { ...t.services, config };
    expect(await deliverOne(tenant.tenantId, wrongKey)).toEqual([]);
    const failed = await lastDelivery(created.id);
    expect(failed.status).toBe("pending");
    expect(failed.last_error).toContain(
      "neither CONNECTOR_ENCRYPTION_KEY nor one of CONNECTOR_ENCRYPTION_PREVIOUS_KEYS",
    );

    const rotate = await createApp(wrongKey).request(
      `http://cellvi.test/v1/webhooks/${created.id}/rotate-secret`,
      {
        method: "POST",
        headers: { authorization: `Bearer ${tenant.apiKey}` },
      },
    );
    expect(rotate.status).toBe(503);
    expect((await rotate.json()).detail).toContain("CONNECTOR_ENCRYPTION_PREVIOUS_KEYS");

    // With the old key among the previous keys it opens, and the sealing step moves it to the new key.
    const rotatedKey = loadConfig({
      PUBLIC_BASE_URL: "http://cellvi.test",
      LOG_LEVEL: "silent",
      CONNECTOR_ENCRYPTION_KEY: otherKey,
      CONNECTOR_ENCRYPTION_PREVIOUS_KEYS: testSealingKey,
    });
    const [sent] = await deliverOne(tenant.tenantId, { ...t.services, config: rotatedKey });
    expect(verifyWithLibrary(created.secret, { headers: sent!.headers, body: sent!.body })).toBeTruthy();
    const newRing = createKeyring(Buffer.from(otherKey, "base64"), [Buffer.from(testSealingKey, "base64")]);
    const resealed = await sealStoredSecrets(t.services.db, newRing);
    expect(resealed.sealed).toBeGreaterThanOrEqual(1);
    expect((await stored(created.id)).secret.split(".")[1]).toBe(newRing.currentId);
    const onlyNew: Services = {
      ...t.services,
      config: loadConfig({
        PUBLIC_BASE_URL: "http://cellvi.test",
        LOG_LEVEL: "silent",
        CONNECTOR_ENCRYPTION_KEY: otherKey,
      }),
    };
    const [afterRotation] = await deliverOne(tenant.tenantId, onlyNew);
    expect(
      verifyWithLibrary(created.secret, { headers: afterRotation!.headers, body: afterRotation!.body }),
    ).toBeTruthy();
  });
});

/**
 * A key missing from the configuration (on PostgreSQL: no CONNECTOR_ENCRYPTION_KEY; on the embedded database, which
 * would generate one: another key) holds the deliveries it sealed without using up their attempts, and once the key
 * is back they go out by themselves, in order, with their own webhook-id.
 */
describe.each(dbKinds)("a delivery whose secret cannot be opened waits for the key on %s", (kind) => {
  let t: TestContext | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  /**
   * A service with `env` and a tenant subscribed to everything at urlA, and the same services as a dispatcher whose
   * configuration cannot open the secret: on PostgreSQL no key at all, on the embedded database (which would
   * generate one) another key.
   */
  async function subscribedWithoutKey(
    clock: ReturnType<typeof manualClock>,
    sender: ReturnType<typeof createRecordingWebhookSender>,
    env: Record<string, string>,
  ) {
    t = await createTestContext(kind, { clock, webhookSender: sender, env });
    const ctx = t;
    clock.catchUp();
    const tenant = await ctx.newTenant();
    const res = await ctx.request("/v1/webhooks/subscribe", {
      method: "POST",
      key: tenant.apiKey,
      json: { url: urlA, events: ["*"] },
    });
    const subscription = (await res.json()) as { id: string; secret: string };
    const withoutKey: Services = {
      ...ctx.services,
      config: loadConfig({
        PUBLIC_BASE_URL: "http://cellvi.test",
        LOG_LEVEL: "silent",
        ...env,
        CONNECTOR_ENCRYPTION_KEY: kind === "postgres" ? "" : otherKey,
      }),
    };
    return { ctx, tenant, subscription, withoutKey };
  }

  interface Row {
    event_id: string;
    status: string;
    attempts: number;
    next_attempt_at: Date | null;
    last_error: string | null;
  }

  it("gives the attempts back, waits longer and longer up to the cap, and delivers in order once the key is back", async () => {
    const clock = manualClock();
    const sender = createRecordingWebhookSender({ hosts: { "a.example.com": ["93.184.215.14"] } });
    // Three attempts at most (1 + two retries), so seven tries without the key would have failed the deliveries;
    // the wait is then at least 1 s and at most 10 s (the schedule's first and longest delays, under the hour).
    const { ctx, tenant, subscription, withoutKey } = await subscribedWithoutKey(clock, sender, {
      WEBHOOK_RETRY_SCHEDULE: "1s,10s",
      WEBHOOK_RETRY_JITTER: "0",
    });
    const rows = async () =>
      (
        await ctx.services.db.query<Row>(
          `select event_id, status, attempts, next_attempt_at, last_error from webhook_deliveries
            where subscription_id = $1 order by seq`,
          [subscription.id],
        )
      ).rows;

    await insertOrdersWithSql(ctx.services.db, tenant.tenantId, "test", 3);
    const start = clock.now().getTime();
    // Each try is due after as long as the subscription has waited: 1 s (the least), 1, 2, 4, 8, then 10 (the cap).
    const waits = [1_000, 1_000, 2_000, 4_000, 8_000, 10_000, 10_000];
    for (const wait of waits) {
      const batch = await runDispatchBatch(withoutKey, { maxDeliveries: 10, maxMillis: 10_000 });
      expect(batch).toMatchObject({ claimed: 3, waiting: 3, retried: 0, failed: 0 });
      for (const row of await rows()) {
        expect(row).toMatchObject({ status: "pending", attempts: 0 });
        expect(row.next_attempt_at!.getTime() - clock.now().getTime()).toBe(wait);
        expect(row.last_error).toMatch(/^Not sent: the subscription's signing secret cannot be opened/);
        expect(row.last_error).toContain(
          kind === "postgres" ? "no CONNECTOR_ENCRYPTION_KEY" : "CONNECTOR_ENCRYPTION_PREVIOUS_KEYS",
        );
        expect(row.last_error).toContain("Waiting for the key: this attempt does not count");
      }
      clock.advance(wait - 1);
      expect((await runDispatchBatch(withoutKey)).claimed).toBe(0);
      clock.advance(1);
    }
    expect(sender.requests).toEqual([]);
    expect(clock.now().getTime() - start).toBe(36_000);

    // An event of the outage's middle queues behind the waiting ones: same wait for the same moment, seq breaks ties.
    await insertOrdersWithSql(ctx.services.db, tenant.tenantId, "test", 1);
    expect(await runDispatchBatch(withoutKey)).toMatchObject({ claimed: 4, waiting: 4 });
    const queued = await rows();
    expect(queued.map((row) => row.next_attempt_at!.getTime())).toEqual(
      Array(4).fill(clock.now().getTime() + 10_000),
    );

    // The operator's mistake is no failure of the endpoint: the subscription has no failure streak.
    const subscriptionRow = await ctx.services.db.query(
      "select failing_since, enabled from webhook_subscriptions where id = $1",
      [subscription.id],
    );
    expect(subscriptionRow.rows).toEqual([{ failing_since: null, enabled: true }]);
    // Visible: every try in the delivery log and in the attempts' metric.
    const logged = await ctx.services.db.query<{ count: number }>(
      `select count(*)::int as count from webhook_attempts a join webhook_deliveries d on d.id = a.delivery_id
        where d.subscription_id = $1 and a.outcome = 'failed' and a.error like 'Not sent:%'`,
      [subscription.id],
    );
    expect(logged.rows[0]!.count).toBe(3 * waits.length + 4);
    expect(await ctx.services.metrics.render()).toContain(
      `cellvi_webhook_delivery_attempts_total{outcome="not_sent"} ${3 * waits.length + 4}`,
    );

    // The key is back: the deliveries go out by themselves when due, oldest first, each with its event's id.
    clock.advance(10_000);
    const back = await runDispatchBatch(ctx.services, { maxDeliveries: 10, maxMillis: 10_000 });
    expect(back).toMatchObject({ claimed: 4, succeeded: 4, waiting: 0 });
    const delivered = await rows();
    expect(delivered.map((row) => [row.status, row.attempts])).toEqual(Array(4).fill(["succeeded", 1]));
    expect(sender.requests.map((request) => request.headers["webhook-id"])).toEqual(
      delivered.map((row) => row.event_id),
    );
    for (const request of sender.requests) {
      expect(verifyWithLibrary(subscription.secret, request)).toMatchObject({ type: "ORDER_CREATED" });
    }
    const after = await ctx.services.db.query(
      "select failing_since, secret_unopened_since from webhook_subscriptions where id = $1",
      [subscription.id],
    );
    expect(after.rows).toEqual([{ failing_since: null, secret_unopened_since: null }]);
  });

  it("does not count the wait toward a failure streak that was running when it began", async () => {
    const clock = manualClock();
    let answer = 500;
    const sender = createRecordingWebhookSender({
      hosts: { "a.example.com": ["93.184.215.14"] },
      respond: () => ({ kind: "response", status: answer, retryAfter: null, body: "", durationMs: 1 }),
    });
    const { ctx, tenant, subscription, withoutKey } = await subscribedWithoutKey(clock, sender, {
      WEBHOOK_RETRY_SCHEDULE: "1s,10s",
      WEBHOOK_RETRY_JITTER: "0",
      WEBHOOK_DISABLE_AFTER: "1m",
    });
    const subscriptionRow = async () =>
      (
        await ctx.services.db.query<{ failing_since: Date | null; enabled: boolean }>(
          "select failing_since, enabled from webhook_subscriptions where id = $1",
          [subscription.id],
        )
      ).rows[0]!;

    // The endpoint fails: a streak starts, 30 s short of the minute that disables the subscription.
    await insertOrdersWithSql(ctx.services.db, tenant.tenantId, "test", 1);
    expect(await runDispatchBatch(ctx.services)).toMatchObject({ claimed: 1, retried: 1 });
    const streakStart = (await subscriptionRow()).failing_since!;
    expect(streakStart).toEqual(clock.now());
    clock.advance(30_000);

    // Then the key goes missing for ten minutes: nothing is sent, the delivery waits.
    const waitStart = clock.now().getTime();
    while (clock.now().getTime() - waitStart < 600_000) {
      expect(await runDispatchBatch(withoutKey)).toMatchObject({ claimed: 1, waiting: 1 });
      clock.advance(10_000);
    }
    const waited = clock.now().getTime() - waitStart;

    // The key is back and the endpoint still fails once: 30 s of failures, not eleven minutes of them.
    const sentBefore = sender.requests.length;
    expect(await runDispatchBatch(ctx.services)).toMatchObject({ claimed: 1, retried: 1 });
    expect(sender.requests.length).toBe(sentBefore + 1);
    const row = await subscriptionRow();
    expect(row.enabled).toBe(true);
    expect(row.failing_since!.getTime()).toBe(streakStart.getTime() + waited);

    // The streak goes on from there: a failure past its minute disables the subscription as before.
    clock.advance(31_000);
    answer = 500;
    await runDispatchBatch(ctx.services);
    expect((await subscriptionRow()).enabled).toBe(false);
  });

  it("shows the wait in the delivery log: waiting_for_secret, and tries not sent that attempt_count leaves out", async () => {
    const clock = manualClock();
    const sender = createRecordingWebhookSender({ hosts: { "a.example.com": ["93.184.215.14"] } });
    const { ctx, tenant, subscription, withoutKey } = await subscribedWithoutKey(clock, sender, {
      WEBHOOK_RETRY_SCHEDULE: "1s,10s",
      WEBHOOK_RETRY_JITTER: "0",
    });
    interface ApiDelivery {
      status: string;
      attempt_count: number;
      waiting_for_secret: boolean;
      attempts: { attempt: number; sent: boolean; status_code: number | null }[];
    }
    const log = async (): Promise<ApiDelivery[]> => {
      const res = await ctx.request(`/v1/webhooks/${subscription.id}/deliveries`, { key: tenant.apiKey });
      expect(res.status).toBe(200);
      return (await res.json()).data;
    };

    await insertOrdersWithSql(ctx.services.db, tenant.tenantId, "test", 1);
    // Queued, never tried: not waiting yet.
    expect((await log())[0]).toMatchObject({
      status: "pending",
      attempt_count: 0,
      waiting_for_secret: false,
    });
    for (const wait of [1_000, 1_000]) {
      expect(await runDispatchBatch(withoutKey)).toMatchObject({ claimed: 1, waiting: 1 });
      clock.advance(wait);
    }
    const waiting = (await log())[0]!;
    expect(waiting).toMatchObject({ status: "pending", attempt_count: 0, waiting_for_secret: true });
    expect(waiting.attempts.map((attempt) => attempt.sent)).toEqual([false, false]);

    // The key is back: the delivery goes out, counted once; the tries before it stay listed as not sent.
    expect(await runDispatchBatch(ctx.services)).toMatchObject({ claimed: 1, succeeded: 1 });
    const delivered = (await log())[0]!;
    expect(delivered).toMatchObject({ status: "succeeded", attempt_count: 1, waiting_for_secret: false });
    expect(delivered.attempts.map((attempt) => [attempt.sent, attempt.status_code])).toEqual([
      [false, null],
      [false, null],
      [true, 200],
    ]);
  });
});

describe("without a configured key", () => {
  it("refuses to store a new secret on a server database (503 naming the setting); plain rows keep signing", async () => {
    const sender = createRecordingWebhookSender({ hosts: { "a.example.com": ["93.184.215.14"] } });
    const t = await createTestContext("postgres", {
      webhookSender: sender,
      env: { CONNECTOR_ENCRYPTION_KEY: "" },
    });
    try {
      const tenant = await t.newTenant();
      const res = await t.request("/v1/webhooks/subscribe", {
        method: "POST",
        key: tenant.apiKey,
        json: { url: urlA, events: ["*"] },
      });
      expect(res.status).toBe(503);
      expect((await res.json()).detail).toContain("CONNECTOR_ENCRYPTION_KEY");
      const plain = generateWebhookSecret();
      await t.services.db.query(
        "insert into webhook_subscriptions (tenant_id, mode, url, events, secret) values ($1, 'test', $2, '{*}', $3)",
        [tenant.tenantId, urlA, plain],
      );
      await insertOrdersWithSql(t.services.db, tenant.tenantId, "test", 1);
      await runDispatchBatch(t.services, { maxDeliveries: 10, maxMillis: 10_000 });
      expect(sender.requests).toHaveLength(1);
      expect(verifyWithLibrary(plain, sender.requests[0]!)).toBeTruthy();
    } finally {
      await t.close();
    }
  });

  it("generates the key file under DATA_DIR on the embedded database, as for connectors", async () => {
    const dataDir = mkdtempSync(`${tmpdir()}/cellvi-webhook-key-`);
    const t = await createTestContext("embedded", {
      env: { DATA_DIR: dataDir, CONNECTOR_ENCRYPTION_KEY: "" },
    });
    try {
      const tenant = await t.newTenant();
      const res = await t.request("/v1/webhooks/subscribe", {
        method: "POST",
        key: tenant.apiKey,
        json: { url: "https://hooks.example.com/x", events: ["*"] },
      });
      expect(res.status).toBe(201);
      expect(existsSync(`${dataDir}/connector-encryption.key`)).toBe(true);
    } finally {
      await t.close();
    }
  });
});

describe("the opened-secret cache", () => {
  const keyring = createKeyring(Buffer.alloc(32, 3));

  it("stays within its bound and never opens a value for another subscription from the cache", () => {
    const opener = new WebhookSecretOpener(keyring, 8);
    for (let i = 0; i < 20; i++) {
      const sealed = sealWebhookSecret(keyring, `wh_${i}`, "secret", `whsec_${i}`);
      expect(opener.open(`wh_${i}`, "secret", sealed)).toBe(`whsec_${i}`);
      expect(opener.size).toBeLessThanOrEqual(8);
    }
    const sealed = sealWebhookSecret(keyring, "wh_a", "secret", "whsec_a");
    expect(opener.open("wh_a", "secret", sealed)).toBe("whsec_a");
    expect(() => opener.open("wh_b", "secret", sealed)).toThrow(/does not authenticate/);
    expect(() => opener.open("wh_a", "previous_secret", sealed)).toThrow(/does not authenticate/);
  });
});
