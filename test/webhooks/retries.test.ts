import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { createRecordingWebhookSender } from "../../src/adapters/sender/recording.ts";
import type { SendResult, WebhookRequest } from "../../src/adapters/sender/types.ts";
import { runDispatchBatch } from "../../src/domain/webhooks/dispatcher.ts";
import { claimDueDeliveries, recordAttemptOutcomes } from "../../src/domain/webhooks/queue.ts";
import { createTestContext, type TestContext } from "../support/app.ts";
import { dbKinds } from "../support/db.ts";
import { insertOrdersWithSql, manualClock } from "./support.ts";

/**
 * Retries, Retry-After, 410, exhaustion, manual retry, disabling and lost claims, on an injected clock: the test
 * moves time, and `runDispatchBatch` (the same code the long-running dispatcher runs) drains what is due.
 */
const ok = (): SendResult => ({ kind: "response", status: 200, retryAfter: null, body: "ok", durationMs: 3 });
const status = (code: number, retryAfter: string | null = null): SendResult => ({
  kind: "response",
  status: code,
  retryAfter,
  body: "nope",
  durationMs: 3,
});
const refused = (): SendResult => ({
  kind: "error",
  reason: "connection",
  error: "connection refused",
  durationMs: 1,
});

const url = "https://hooks.example.com/cellvi";

describe.each(dbKinds)("webhook retries on %s", (kind) => {
  let t: TestContext | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  async function setup(env: Record<string, string> = {}, respond?: (request: WebhookRequest) => SendResult) {
    const clock = manualClock();
    const sender = createRecordingWebhookSender({
      hosts: { "hooks.example.com": ["93.184.215.14"] },
      ...(respond ? { respond } : {}),
    });
    t = await createTestContext(kind, {
      clock,
      webhookSender: sender,
      env: { WEBHOOK_RETRY_JITTER: "0", ...env },
    });
    clock.catchUp();
    const tenant = await t.newTenant();
    const res = await t.request("/v1/webhooks/subscribe", {
      method: "POST",
      key: tenant.apiKey,
      json: { url, events: ["*"] },
    });
    const subscription = await res.json();
    return { t, clock, sender, tenant, subscription };
  }

  const deliveryRows = (ctx: TestContext) =>
    ctx.services.db
      .query<{
        id: string;
        event_id: string;
        status: string;
        attempts: number;
        next_attempt_at: Date | null;
        last_error: string | null;
      }>(
        "select id, event_id, status, attempts, next_attempt_at, last_error from webhook_deliveries order by seq",
      )
      .then((r) => r.rows);

  it("keeps retrying a receiver that is down and delivers everything once it recovers, on schedule", async () => {
    let down = true;
    const { t, clock, sender, tenant } = await setup({}, () => (down ? refused() : ok()));
    await insertOrdersWithSql(t.services.db, tenant.tenantId, "test", 3);
    const start = clock.now().getTime();

    expect((await runDispatchBatch(t.services)).retried).toBe(3);
    clock.advance(4_999);
    expect((await runDispatchBatch(t.services)).claimed).toBe(0);
    clock.advance(1);
    expect((await runDispatchBatch(t.services)).retried).toBe(3);
    clock.advance(30_000);
    expect((await runDispatchBatch(t.services)).retried).toBe(3);
    down = false;
    clock.advance(119_999);
    expect((await runDispatchBatch(t.services)).claimed).toBe(0);
    clock.advance(1);
    expect((await runDispatchBatch(t.services)).succeeded).toBe(3);

    const rows = await deliveryRows(t);
    expect(rows.map((r) => [r.status, r.attempts])).toEqual([
      ["succeeded", 4],
      ["succeeded", 4],
      ["succeeded", 4],
    ]);
    const attempts = await t.services.db.query<{ delivery_id: string; attempted_at: Date; outcome: string }>(
      "select delivery_id, attempted_at, outcome from webhook_attempts order by id",
    );
    for (const row of rows) {
      const times = attempts.rows
        .filter((a) => a.delivery_id === row.id)
        .map((a) => a.attempted_at.getTime() - start);
      // Immediately, then +5 s, +30 s, +2 min: the default schedule, exactly (no jitter in this test).
      expect(times).toEqual([0, 5_000, 35_000, 155_000]);
    }
    // Every attempt of an event carried the same id and the same bytes; the timestamp is the attempt's.
    const byEvent = new Map<string, WebhookRequest[]>();
    for (const request of sender.requests) {
      const list = byEvent.get(request.headers["webhook-id"]!) ?? [];
      list.push(request);
      byEvent.set(request.headers["webhook-id"]!, list);
    }
    expect([...byEvent.keys()].sort()).toEqual(rows.map((r) => r.event_id).sort());
    for (const requests of byEvent.values()) {
      expect(requests).toHaveLength(4);
      expect(new Set(requests.map((r) => r.body)).size).toBe(1);
      expect(requests.map((r) => Number(r.headers["webhook-timestamp"]))).toEqual(
        [0, 5, 35, 155].map((s) => Math.floor(start / 1000 + s)),
      );
    }
  });

  it("spreads retries with jitter within the configured fraction", async () => {
    const { t, tenant } = await setup({ WEBHOOK_RETRY_JITTER: "0.2" }, () => status(500));
    await insertOrdersWithSql(t.services.db, tenant.tenantId, "test", 1);
    await runDispatchBatch(t.services, { random: () => 0.75 });
    const [row] = await deliveryRows(t);
    const attempted = (
      await t.services.db.query<{ attempted_at: Date }>("select attempted_at from webhook_attempts")
    ).rows[0]!;
    // 5 s × (1 + 0.2 × (2 × 0.75 − 1)) = 5.5 s.
    expect(row!.next_attempt_at!.getTime() - attempted.attempted_at.getTime()).toBe(5_500);
  });

  it("honours Retry-After on 429 and 503", async () => {
    let answer = status(429, "120");
    const { t, clock, tenant } = await setup({}, () => answer);
    await insertOrdersWithSql(t.services.db, tenant.tenantId, "test", 1);
    await runDispatchBatch(t.services);
    clock.advance(5_000);
    expect((await runDispatchBatch(t.services)).claimed).toBe(0);
    clock.advance(115_000);
    answer = status(503, "Sat, 01 Jan 2000 00:00:00 GMT");
    expect((await runDispatchBatch(t.services)).claimed).toBe(1);
    // A date in the past asks for nothing: the schedule's 30 s applies.
    const [row] = await deliveryRows(t);
    expect(row!.next_attempt_at!.getTime() - clock.now().getTime()).toBe(30_000);
  });

  it("fails a delivery after the last attempt and lets it be retried by hand with the same id and body", async () => {
    let answer = status(500);
    const { t, clock, sender, tenant, subscription } = await setup(
      { WEBHOOK_RETRY_SCHEDULE: "1s,2s" },
      () => answer,
    );
    await insertOrdersWithSql(t.services.db, tenant.tenantId, "test", 1);
    await runDispatchBatch(t.services);
    clock.advance(1_000);
    await runDispatchBatch(t.services);
    clock.advance(2_000);
    expect((await runDispatchBatch(t.services)).failed).toBe(1);
    clock.advance(86_400_000);
    expect((await runDispatchBatch(t.services)).claimed).toBe(0);

    const log = await (
      await t.request(`/v1/webhooks/${subscription.id}/deliveries`, { key: tenant.apiKey })
    ).json();
    const delivery = log.data[0];
    expect(delivery).toMatchObject({ status: "failed", attempt_count: 3, next_attempt_at: null });
    expect(delivery.attempts.map((a: { status_code: number }) => a.status_code)).toEqual([500, 500, 500]);
    expect(delivery.attempts[2].next_attempt_at).toBeNull();
    expect(delivery.attempts[0].next_attempt_at).not.toBeNull();
    expect(delivery.last_error).toContain("500");

    // A manual retry is one attempt: still failing, it fails again without a new schedule.
    const retried = await t.request(`/v1/webhooks/deliveries/${delivery.id}/retry`, {
      method: "POST",
      key: tenant.apiKey,
    });
    expect(retried.status).toBe(202);
    expect((await retried.json()).status).toBe("pending");
    const again = await t.request(`/v1/webhooks/deliveries/${delivery.id}/retry`, {
      method: "POST",
      key: tenant.apiKey,
    });
    expect(again.status).toBe(409);
    expect((await runDispatchBatch(t.services)).failed).toBe(1);

    answer = ok();
    await t.request(`/v1/webhooks/deliveries/${delivery.id}/retry`, { method: "POST", key: tenant.apiKey });
    expect((await runDispatchBatch(t.services)).succeeded).toBe(1);
    const [row] = await deliveryRows(t);
    expect(row).toMatchObject({ status: "succeeded", attempts: 5 });
    expect(new Set(sender.requests.map((r) => r.headers["webhook-id"]))).toEqual(new Set([row!.event_id]));
    expect(new Set(sender.requests.map((r) => r.body)).size).toBe(1);
  });

  it("disables the subscription on 410 Gone, fails its queue, and resumes when re-enabled", async () => {
    let answer = status(410);
    const { t, sender, tenant, subscription } = await setup({}, () => answer);
    await insertOrdersWithSql(t.services.db, tenant.tenantId, "test", 3);
    const result = await runDispatchBatch(t.services, { settings: { concurrency: 1 } });
    // The first 410 disables it; the deliveries still queued are failed rather than sent.
    expect(result.claimed).toBe(1);
    expect(sender.requests).toHaveLength(1);
    const fetched = await (await t.request(`/v1/webhooks/${subscription.id}`, { key: tenant.apiKey })).json();
    expect(fetched).toMatchObject({ enabled: false, disabled_reason: "endpoint_gone" });
    const rows = await deliveryRows(t);
    expect(rows.map((r) => r.status)).toEqual(["failed", "failed", "failed"]);
    expect(rows[0]!.last_error).toContain("410");
    expect(rows[1]!.last_error).toContain("disabled");

    // Disabled: new events do not even queue, and retries are refused until it is enabled.
    await insertOrdersWithSql(t.services.db, tenant.tenantId, "test", 1);
    expect(await deliveryRows(t)).toHaveLength(3);
    const refusedRetry = await t.request(`/v1/webhooks/deliveries/${rows[1]!.id}/retry`, {
      method: "POST",
      key: tenant.apiKey,
    });
    expect(refusedRetry.status).toBe(409);

    answer = ok();
    const enabled = await t.request(`/v1/webhooks/${subscription.id}`, {
      method: "PATCH",
      key: tenant.apiKey,
      json: { enabled: true },
    });
    expect((await enabled.json()).enabled).toBe(true);
    await insertOrdersWithSql(t.services.db, tenant.tenantId, "test", 1);
    const retry = await t.request(`/v1/webhooks/deliveries/${rows[1]!.id}/retry`, {
      method: "POST",
      key: tenant.apiKey,
    });
    expect(retry.status).toBe(202);
    expect((await runDispatchBatch(t.services)).succeeded).toBe(2);
  });

  it("disables a subscription whose every attempt failed for five days, and says so in the API", async () => {
    let answer = refused();
    const { t, clock, tenant, subscription } = await setup({ WEBHOOK_RETRY_SCHEDULE: "1h" }, () => answer);
    const get = async () =>
      (await t.request(`/v1/webhooks/${subscription.id}`, { key: tenant.apiKey })).json();
    const firstFailure = clock.now();
    for (let day = 0; day < 5; day++) {
      await insertOrdersWithSql(t.services.db, tenant.tenantId, "test", 1);
      await runDispatchBatch(t.services);
      clock.advance(3_600_000);
      await runDispatchBatch(t.services);
      const current = await get();
      expect(current.enabled).toBe(true);
      expect(current.failing_since).toBe(firstFailure.toISOString());
      clock.advance(86_400_000 - 3_600_000);
    }
    // One success resets the streak...
    answer = ok();
    await insertOrdersWithSql(t.services.db, tenant.tenantId, "test", 1);
    await runDispatchBatch(t.services);
    expect((await get()).failing_since).toBeNull();

    // ...so it takes five more days of failures.
    answer = refused();
    const restart = clock.now();
    for (let day = 0; day <= 5; day++) {
      await insertOrdersWithSql(t.services.db, tenant.tenantId, "test", 1);
      await runDispatchBatch(t.services);
      if (day < 5) {
        expect((await get()).enabled).toBe(true);
        clock.advance(86_400_000);
      }
    }
    const disabled = await get();
    expect(disabled).toMatchObject({
      enabled: false,
      disabled_reason: "failing",
      failing_since: restart.toISOString(),
    });
    const listed = await (await t.request("/v1/webhooks", { key: tenant.apiKey })).json();
    expect(listed.data[0]).toMatchObject({ id: subscription.id, enabled: false, disabled_reason: "failing" });
    const pending = await t.services.db.query("select 1 from webhook_deliveries where status = 'pending'");
    expect(pending.rowCount).toBe(0);
  });

  it("retries a delivery whose worker died (its claim expires) and ignores that worker's late outcome", async () => {
    const { t, clock, sender, tenant } = await setup({ WEBHOOK_TIMEOUT: "10s", WEBHOOK_LEASE: "40s" });
    await insertOrdersWithSql(t.services.db, tenant.tenantId, "test", 1);
    // A worker claims and then "dies": nothing is ever recorded for this claim.
    const deadToken = randomUUID();
    const [claimed] = await claimDueDeliveries(t.services.db, {
      now: clock.now(),
      limit: 10,
      leaseMs: 40_000,
      perEndpoint: 16,
      leaseToken: deadToken,
    });
    expect(claimed).toBeDefined();
    expect((await runDispatchBatch(t.services)).claimed).toBe(0);
    clock.advance(40_000);
    expect((await runDispatchBatch(t.services)).succeeded).toBe(1);
    const [row] = await deliveryRows(t);
    expect(row).toMatchObject({ status: "succeeded", attempts: 2 });
    expect(sender.requests.map((r) => r.headers["webhook-id"])).toEqual([claimed!.event_id]);

    const late = await recordAttemptOutcomes(
      t.services.db,
      [
        {
          deliveryId: claimed!.id,
          leaseToken: deadToken,
          subscriptionId: claimed!.subscription_id,
          attempt: 1,
          attemptedAt: clock.now(),
          durationMs: 5,
          outcome: "failed",
          statusCode: 500,
          error: "late",
          responseBody: null,
          deliveryStatus: "pending",
          nextAttemptAt: clock.now(),
          disableSubscription: null,
          subscriptionWasFailing: false,
        },
      ],
      { now: clock.now(), disableAfterMs: 5 * 86_400_000, secretWaitMaxMs: 3_600_000, leaseMs: 40_000 },
    );
    expect(late.stale).toBe(1);
    expect((await deliveryRows(t))[0]).toMatchObject({ status: "succeeded", attempts: 2 });
  });

  it("records nothing wrong when a subscription is deleted while its delivery is in flight", async () => {
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { t, tenant, subscription } = await setup();
    (t.services.webhookSender as { send: (r: WebhookRequest) => Promise<SendResult> }).send = async () => {
      await held;
      return ok();
    };
    await insertOrdersWithSql(t.services.db, tenant.tenantId, "test", 1);
    const batch = runDispatchBatch(t.services);
    const deleted = await t.request(`/v1/webhooks/${subscription.id}`, {
      method: "DELETE",
      key: tenant.apiKey,
    });
    expect(deleted.status).toBe(204);
    release();
    const result = await batch;
    expect(result).toMatchObject({ claimed: 1, succeeded: 1, stale: 1 });
    expect((await t.services.db.query("select 1 from webhook_attempts")).rowCount).toBe(0);
  });

  it("bounds a batch by count and says when more is due", async () => {
    const { t, tenant, sender } = await setup();
    await insertOrdersWithSql(t.services.db, tenant.tenantId, "test", 25);
    const first = await runDispatchBatch(t.services, { maxDeliveries: 10 });
    expect(first).toMatchObject({ claimed: 10, succeeded: 10, more: true });
    const second = await runDispatchBatch(t.services, { maxDeliveries: 10 });
    expect(second).toMatchObject({ claimed: 10, more: true });
    const third = await runDispatchBatch(t.services, { maxDeliveries: 10 });
    expect(third).toMatchObject({ claimed: 5, more: false });
    expect(new Set(sender.requests.map((r) => r.headers["webhook-id"])).size).toBe(25);
  });

  it("drains everything due to a one-slot endpoint, even when its attempts finish while a claim runs", async () => {
    // One attempt at a time and two held per endpoint: each claim is cut short by the deliveries held, and with
    // this sender they finish before the claim's answer arrives, so the engine looks unsaturated afterwards.
    const { t, tenant, sender } = await setup({ WEBHOOK_ENDPOINT_CONCURRENCY: "1" });
    await insertOrdersWithSql(t.services.db, tenant.tenantId, "test", 7);
    const batch = await runDispatchBatch(t.services);
    expect(batch).toMatchObject({ claimed: 7, succeeded: 7, more: false });
    expect(new Set(sender.requests.map((r) => r.headers["webhook-id"])).size).toBe(7);
  });
});
