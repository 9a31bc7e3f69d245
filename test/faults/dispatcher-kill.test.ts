import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTenant } from "../../src/domain/tenants/store.ts";
import { generateWebhookSecret } from "../../src/domain/webhooks/secrets.ts";
import { createSubscription } from "../../src/domain/webhooks/subscriptions.ts";
import { testKeyring } from "../support/app.ts";
import { openTestDb, type TestDb } from "../support/db.ts";
import { startWorkerProcess, type WorkerProcess } from "../support/worker-process.ts";
import {
  insertOrdersWithSql,
  type Receiver,
  startReceiver,
  verifyWithLibrary,
  waitFor,
} from "../webhooks/support.ts";

/**
 * The dispatcher as its own process (`cli worker`), killed with SIGKILL in the middle of a burst: after a restart
 * every event has reached the receiver, none is missing, and the duplicates (attempts whose outcome the dead worker
 * never recorded) carry the same webhook-id and the same signed bytes. Then SIGTERM: in-flight attempts finish and
 * are recorded before the process exits 0.
 */
describe("a webhook worker killed mid-burst", () => {
  let testDb: TestDb;
  let receiver: Receiver;
  let tenantId: string;
  let secret: string;
  const workers: WorkerProcess[] = [];
  let holdMs = 15;

  beforeAll(async () => {
    testDb = await openTestDb("postgres");
    // Each answer takes a little while, so the worker always has attempts in flight when it is killed.
    receiver = await startReceiver(() => ({
      status: 200,
      holdUntil: new Promise<void>((resolve) => setTimeout(resolve, holdMs)),
    }));
    tenantId = (await createTenant(testDb.db, { name: "Burst" })).tenant.id;
    secret = generateWebhookSecret();
    const created = await createSubscription(
      testDb.db,
      testKeyring(),
      { tenantId, mode: "test" },
      { url: receiver.url, events: ["*"], secret },
    );
    expect(created.kind).toBe("created");
  });

  afterAll(async () => {
    for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill("SIGKILL");
    await receiver?.close();
    await testDb?.close();
  });

  it("loses nothing: every event arrives after a restart, duplicates with the same webhook-id", async () => {
    const first = await startWorkerProcess(testDb.url!);
    workers.push(first);
    const total = 2_000;
    const burst = (async () => {
      for (let i = 0; i < total / 200; i++) await insertOrdersWithSql(testDb.db, tenantId, "test", 200);
    })();
    await waitFor(
      () => receiver.received.length >= 400,
      "the first worker to be well into the burst",
      60_000,
    );
    first.child.kill("SIGKILL");
    expect(await first.exited).toMatchObject({ signal: "SIGKILL" });
    await burst;

    const atKill = await testDb.db.query<{ leased: number; done: number }>(
      `select count(*) filter (where status = 'pending' and lease_token is not null)::int as leased,
              count(*) filter (where status = 'succeeded')::int as done
         from webhook_deliveries`,
    );
    // The dead worker left claimed deliveries behind, and most of the burst was still to be sent.
    expect(atKill.rows[0]!.leased).toBeGreaterThan(0);
    expect(atKill.rows[0]!.done).toBeLessThan(total);

    const second = await startWorkerProcess(testDb.url!);
    workers.push(second);
    await waitFor(
      async () => {
        const { rows } = await testDb.db.query<{ n: number }>(
          "select count(*)::int as n from webhook_deliveries where status = 'succeeded'",
        );
        return rows[0]!.n === total;
      },
      "every delivery to succeed after the restart",
      90_000,
    );

    const events = await testDb.db.query<{ id: string }>("select id from events where tenant_id = $1", [
      tenantId,
    ]);
    expect(events.rows).toHaveLength(total);
    const byId = new Map<string, string[]>();
    for (const request of receiver.received) {
      const id = String(request.headers["webhook-id"]);
      byId.set(id, [...(byId.get(id) ?? []), request.body]);
      verifyWithLibrary(secret, request);
    }
    // None missing, nothing that is not an event.
    expect([...byId.keys()].sort()).toEqual(events.rows.map((e) => e.id).sort());
    // A duplicate is the same message again: same webhook-id, same bytes.
    const duplicates = [...byId.values()].filter((bodies) => bodies.length > 1);
    for (const bodies of duplicates) expect(new Set(bodies).size).toBe(1);
    expect(receiver.received.length).toBe(total + duplicates.reduce((n, b) => n + b.length - 1, 0));
    console.info(`dispatcher kill: ${total} events, ${duplicates.length} delivered twice after the kill`);
  });

  it("drains in-flight attempts on SIGTERM, records them, and exits 0", async () => {
    const worker = workers[workers.length - 1]!;
    holdMs = 400;
    const before = receiver.received.length;
    await insertOrdersWithSql(testDb.db, tenantId, "test", 5);
    await waitFor(() => receiver.received.length >= before + 5, "five attempts in flight", 30_000);
    worker.child.kill("SIGTERM");
    const exit = await worker.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    const summary = worker.summary();
    expect(summary.signal).toBe("SIGTERM");
    const { rows } = await testDb.db.query<{ status: string; n: number }>(
      "select status, count(*)::int as n from webhook_deliveries group by status",
    );
    expect(rows).toEqual([{ status: "succeeded", n: 2_005 }]);
  });
});
