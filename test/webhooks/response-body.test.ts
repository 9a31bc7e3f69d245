import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Dispatcher, startDispatcher } from "../../src/domain/webhooks/dispatcher.ts";
import { createTestContext, type TestContext } from "../support/app.ts";
import { dbKinds } from "../support/db.ts";
import { insertOrdersWithSql, type Receiver, startReceiver, waitFor } from "./support.ts";

/**
 * What a receiver answers is kept (its first KiB) in the attempt log, which PostgreSQL stores as text, and text
 * cannot hold U+0000. An answer with a NUL byte must not fail the outcome write, which records the attempts of a
 * whole batch, other endpoints' included, in one statement.
 */
describe.each(dbKinds)("a receiver answering with a NUL byte (%s)", (kind) => {
  let t: TestContext;
  let dispatcher: Dispatcher;
  let nul: Receiver;
  let plain: Receiver;

  beforeAll(async () => {
    t = await createTestContext(kind, {
      env: { WEBHOOK_ALLOW_PRIVATE_URLS: "true", WEBHOOK_ALLOW_HTTP: "true", WEBHOOK_TIMEOUT: "5s" },
    });
    [nul, plain] = await Promise.all([
      startReceiver(() => ({ status: 200, body: "ok\u0000then more" })),
      startReceiver(() => ({ status: 200, body: "fine" })),
    ]);
    dispatcher = await startDispatcher(t.services);
  });
  afterAll(async () => {
    await dispatcher?.stop();
    await Promise.all([nul?.close(), plain?.close()]);
    await t?.close();
  });

  it("records every attempt, the NUL replaced, and delivers each event once", async () => {
    const { tenantId, apiKey } = await t.newTenant();
    for (const receiver of [nul, plain]) {
      const res = await t.request("/v1/webhooks/subscribe", {
        method: "POST",
        key: apiKey,
        json: { url: receiver.url, events: ["ORDER_CREATED"] },
      });
      expect(res.status).toBe(201);
    }
    await insertOrdersWithSql(t.services.db, tenantId, "test", 3);
    await waitFor(async () => {
      const { rows } = await t.services.db.query<{ open: number }>(
        `select count(*)::int as open from webhook_deliveries d
           join webhook_subscriptions s on s.id = d.subscription_id
          where s.tenant_id = $1 and d.status <> 'succeeded'`,
        [tenantId],
      );
      return rows[0]!.open === 0;
    }, "every delivery recorded as succeeded");
    const { rows } = await t.services.db.query<{ response_body: string }>(
      `select a.response_body from webhook_attempts a
         join webhook_deliveries d on d.id = a.delivery_id
         join webhook_subscriptions s on s.id = d.subscription_id
        where s.tenant_id = $1 order by a.response_body`,
      [tenantId],
    );
    expect(rows.map((row) => row.response_body)).toEqual([
      "fine",
      "fine",
      "fine",
      "ok\uFFFDthen more",
      "ok\uFFFDthen more",
      "ok\uFFFDthen more",
    ]);
    expect(nul.received).toHaveLength(3);
    expect(plain.received).toHaveLength(3);
  });
});
