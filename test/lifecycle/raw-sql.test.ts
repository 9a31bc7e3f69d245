import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Queryable } from "../../src/adapters/db/types.ts";
import { assignDriver } from "../../src/domain/orders/lifecycle/operations.ts";
import { insertOrder } from "../../src/domain/orders/store.ts";
import { createTenant } from "../../src/domain/tenants/store.ts";
import { orderBody } from "../support/app.ts";
import { dbKinds, openTestDb, type TestDb } from "../support/db.ts";
import { driver, eventsOf, historyOf, orderRow } from "./support.ts";

/** Other CELLVI components write SQL straight into the shared database: these tests write as they would. */
describe.each(dbKinds)("state changes made with raw SQL on %s", (kind) => {
  let testDb: TestDb;
  let tenantId: string;
  beforeAll(async () => {
    testDb = await openTestDb(kind);
    tenantId = (await createTenant(testDb.db, { name: "Raw SQL tenant" })).tenant.id;
  });
  afterAll(() => testDb.close());

  async function newOrder(overrides: Record<string, unknown> = {}): Promise<string> {
    const result = await testDb.db.transaction((tx) =>
      insertOrder(tx, { tenantId, mode: "test" }, orderBody(overrides) as never),
    );
    if (result.kind !== "created") throw new Error("order not created");
    return result.order.id;
  }

  async function sqlError(run: () => Promise<unknown>): Promise<{ code?: string; message: string }> {
    try {
      await run();
    } catch (error) {
      return error as { code?: string; message: string };
    }
    throw new Error("expected the statement to fail");
  }

  it("an UPDATE of the status writes one history row and one event with the full payload", async () => {
    const orderId = await newOrder();
    await testDb.db.query("update orders set status = 'DRIVER_ASSIGNED', driver = $2 where id = $1", [
      orderId,
      JSON.stringify(driver),
    ]);
    const events = await eventsOf(testDb.db, orderId);
    expect(events.map((e) => e.type)).toEqual(["ORDER_CREATED", "DRIVER_ASSIGNED"]);
    const { rows } = await testDb.db.query<{ external_id: string; tracking_number: string }>(
      "select external_id, tracking_number from orders where id = $1",
      [orderId],
    );
    expect(events[1]!.payload).toMatchObject({
      order_id: orderId,
      external_id: rows[0]!.external_id,
      tracking_number: rows[0]!.tracking_number,
      status: "DRIVER_ASSIGNED",
      occurred_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      attempt: 1,
      driver,
    });
    expect(events[1]!.id).toMatch(/^evt_[0-9a-f]{32}$/);
    expect(events[1]!.tenant_id).toBe(tenantId);
    expect(events[1]!.mode).toBe("test");
    const history = await historyOf(testDb.db, orderId);
    expect(history.map((h) => h.status)).toEqual(["CREATED", "DRIVER_ASSIGNED"]);
    expect(history[1]!.actor).toMatch(/^sql:/);
    expect((await orderRow(testDb.db, orderId)).attempt).toBe(1);
  });

  it("an INSERT into the history moves the order and writes exactly one event (no recursion)", async () => {
    const orderId = await newOrder();
    await testDb.db.query("update orders set status = 'DRIVER_ASSIGNED' where id = $1", [orderId]);
    await testDb.db.query(
      `insert into order_status_history (order_id, tenant_id, status, description, details)
       values ($1, $2, 'NEARBY', 'Driver 300 m away', '{"distance_m": 300}')`,
      [orderId, tenantId],
    );
    expect((await orderRow(testDb.db, orderId)).status).toBe("NEARBY");
    const events = await eventsOf(testDb.db, orderId);
    expect(events.map((e) => e.type)).toEqual(["ORDER_CREATED", "DRIVER_ASSIGNED", "NEARBY"]);
    expect(events[2]!.payload).toMatchObject({ status: "NEARBY", distance_m: 300, attempt: 1 });
    expect(await historyOf(testDb.db, orderId)).toHaveLength(3);
  });

  it("models EXCEPTION, a new attempt, and closing with raw SQL too", async () => {
    const orderId = await newOrder();
    const db = testDb.db;
    await db.query("update orders set status = 'DRIVER_ASSIGNED' where id = $1", [orderId]);
    await db.query(
      `update orders set status = 'EXCEPTION', exception = '{"code":"DAMAGED","message":"Box crushed"}' where id = $1`,
      [orderId],
    );
    await db.query("update orders set status = 'DRIVER_ASSIGNED' where id = $1", [orderId]);
    await db.query("update orders set status = 'EXCEPTION' where id = $1", [orderId]);
    await db.query("update orders set closed_at = now() where id = $1", [orderId]);
    const events = await eventsOf(db, orderId);
    expect(events.map((e) => [e.type, e.payload.attempt, e.payload.closed])).toEqual([
      ["ORDER_CREATED", undefined, undefined],
      ["DRIVER_ASSIGNED", 1, undefined],
      ["EXCEPTION", 1, false],
      ["DRIVER_ASSIGNED", 2, undefined],
      ["EXCEPTION", 2, false],
      ["EXCEPTION", 2, true],
    ]);
    expect(events[2]!.payload.exception).toEqual({ code: "DAMAGED", message: "Box crushed" });
    expect(events[4]!.payload.exception).toEqual({
      code: "OTHER",
      message: "Exception reported by another CELLVI system",
    });
    // Closed is final, for raw SQL as for the API.
    const error = await sqlError(() =>
      db.query("update orders set status = 'DRIVER_ASSIGNED', closed_at = null where id = $1", [orderId]),
    );
    expect(error.code).toBe("CV409");
  });

  it("rejects an invalid UPDATE with SQLSTATE CV409 naming the states, and changes nothing", async () => {
    const orderId = await newOrder();
    const before = await orderRow(testDb.db, orderId);
    const error = await sqlError(() =>
      testDb.db.query("update orders set status = 'DELIVERED' where id = $1", [orderId]),
    );
    expect(error.code).toBe("CV409");
    expect(error.message).toContain("is CREATED, it cannot move to DELIVERED");
    expect(await orderRow(testDb.db, orderId)).toEqual(before);
    expect((await eventsOf(testDb.db, orderId)).map((e) => e.type)).toEqual(["ORDER_CREATED"]);
  });

  it("rejects an invalid history INSERT, a second CREATED row and a row of another tenant", async () => {
    const orderId = await newOrder();
    const db = testDb.db;
    await db.query("update orders set status = 'DRIVER_ASSIGNED' where id = $1", [orderId]);
    await db.query("update orders set status = 'DELIVERED' where id = $1", [orderId]);
    const insert = (status: string, tenant = tenantId) =>
      db.query(
        "insert into order_status_history (order_id, tenant_id, status, description) values ($1, $2, $3, 'x')",
        [orderId, tenant, status],
      );
    expect((await sqlError(() => insert("NEARBY"))).code).toBe("CV409");
    expect((await sqlError(() => insert("CREATED"))).code).toBe("CV409");
    const other = (await createTenant(db, { name: "Other" })).tenant.id;
    expect((await sqlError(() => insert("EXCEPTION", other))).message).toContain("another tenant");
    expect((await eventsOf(db, orderId)).map((e) => e.type)).toEqual([
      "ORDER_CREATED",
      "DRIVER_ASSIGNED",
      "DELIVERED",
    ]);
    expect((await orderRow(db, orderId)).status).toBe("DELIVERED");
  });

  it("does not treat a write that keeps the state as a change", async () => {
    const orderId = await newOrder();
    await testDb.db.query("update orders set status = 'CREATED', notes = 'Call first' where id = $1", [
      orderId,
    ]);
    await testDb.db.query('update orders set metadata = \'{"a":"b"}\' where id = $1', [orderId]);
    expect(await eventsOf(testDb.db, orderId)).toHaveLength(1);
    expect(await historyOf(testDb.db, orderId)).toHaveLength(1);
  });

  it("writes one event per row for an UPDATE of many orders", async () => {
    const ids = [await newOrder(), await newOrder(), await newOrder()];
    const result = await testDb.db.query(
      "update orders set status = 'EXCEPTION' where id = any($1::uuid[])",
      [ids],
    );
    expect(result.rowCount).toBe(3);
    for (const id of ids) {
      expect((await eventsOf(testDb.db, id)).map((e) => e.type)).toEqual(["ORDER_CREATED", "EXCEPTION"]);
    }
  });

  it("fails a multi-row UPDATE as a whole when one row's transition is invalid", async () => {
    const good = await newOrder();
    const bad = await newOrder();
    await testDb.db.query("update orders set status = 'EXCEPTION' where id = $1", [bad]);
    await testDb.db.query("update orders set closed_at = now() where id = $1", [bad]);
    const error = await sqlError(() =>
      testDb.db.query(
        "update orders set status = 'DRIVER_ASSIGNED', closed_at = null where id = any($1::uuid[])",
        [[good, bad]],
      ),
    );
    expect(error.code).toBe("CV409");
    expect((await orderRow(testDb.db, good)).status).toBe("CREATED");
    expect(await eventsOf(testDb.db, good)).toHaveLength(1);
  });

  it("leaves no event behind when the change is rolled back (raw SQL or our own code)", async () => {
    const orderId = await newOrder();
    const seqBefore = await maxEventSeq(testDb.db);
    const boom = new Error("rolled back on purpose");
    await expect(
      testDb.db.transaction(async (tx) => {
        await tx.query("update orders set status = 'DRIVER_ASSIGNED' where id = $1", [orderId]);
        expect((await eventsOf(tx, orderId)).map((e) => e.type)).toEqual([
          "ORDER_CREATED",
          "DRIVER_ASSIGNED",
        ]);
        throw boom;
      }),
    ).rejects.toBe(boom);
    await expect(
      testDb.db.transaction(async (tx) => {
        const result = await assignDriver(
          tx,
          { tenantId, mode: "test" },
          orderId,
          { driver },
          {
            actor: "test",
            now: new Date(),
            averageSpeedKmh: 20,
            defaultNearbyRadiusM: 1000,
          },
        );
        expect(result.kind).toBe("ok");
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await maxEventSeq(testDb.db)).toBe(seqBefore);
    expect((await orderRow(testDb.db, orderId)).status).toBe("CREATED");
    expect(await historyOf(testDb.db, orderId)).toHaveLength(1);
  });

  it("gives an order inserted with plain SQL its ORDER_CREATED event at commit, and only one", async () => {
    const { rows } = await testDb.db.query<{ id: string }>(
      `insert into orders (tenant_id, mode, external_id, tracking_number, tracking_token, recipient, destination,
                           origin, packages)
       values ($1, 'test', 'RAW-1', 'CVRAWSQL00001', 'trk_raw', '{"name":"A","phone":"+5730000000"}',
               '{"city":"Cali","address_line1":"x","country":"CO"}', '{"city":"Bogotá"}', '[]')
       returning id`,
      [tenantId],
    );
    const orderId = rows[0]!.id;
    const events = await eventsOf(testDb.db, orderId);
    expect(events.map((e) => e.type)).toEqual(["ORDER_CREATED"]);
    expect(events[0]!.payload).toMatchObject({ status: "CREATED", external_id: "RAW-1", city: "Bogotá" });
    // Our own insertOrder writes its CREATED row itself: still exactly one event.
    const viaApi = await newOrder();
    expect(await eventsOf(testDb.db, viaApi)).toHaveLength(1);
  });

  it("refuses a new order that does not start as CREATED", async () => {
    const error = await sqlError(() =>
      testDb.db.query(
        `insert into orders (tenant_id, mode, external_id, tracking_number, tracking_token, recipient, destination,
                             packages, status)
         values ($1, 'test', 'RAW-2', 'CVRAWSQL00002', 't', '{}', '{}', '[]', 'DELIVERED')`,
        [tenantId],
      ),
    );
    expect(error.code).toBe("CV409");
  });

  it("records the writer named in cellvi.actor", async () => {
    const orderId = await newOrder();
    await testDb.db.transaction(async (tx) => {
      await tx.query("select set_config('cellvi.actor', 'dispatch-console', true)");
      await tx.query("update orders set status = 'DRIVER_ASSIGNED' where id = $1", [orderId]);
    });
    expect((await historyOf(testDb.db, orderId))[1]!.actor).toBe("dispatch-console");
  });
});

async function maxEventSeq(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ seq: number }>("select coalesce(max(seq), 0)::int8 as seq from events");
  return rows[0]!.seq;
}
