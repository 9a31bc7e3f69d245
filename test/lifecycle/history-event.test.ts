import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { insertOrder } from "../../src/domain/orders/store.ts";
import { createTenant } from "../../src/domain/tenants/store.ts";
import { orderBody } from "../support/app.ts";
import { dbKinds, openTestDb, type TestDb } from "../support/db.ts";
import { eventsOf, historyOf, orderRow } from "./support.ts";

/**
 * Since 0008 the history row's BEFORE trigger writes its event (it used to be an AFTER trigger) and skips the
 * order's row lock for a CREATED row of an order its own transaction inserted: the cases those two shortcuts must
 * still get right.
 */
describe.each(dbKinds)("the history row's event on %s", (kind) => {
  let testDb: TestDb;
  let tenantId: string;
  beforeAll(async () => {
    testDb = await openTestDb(kind);
    tenantId = (await createTenant(testDb.db, { name: "History event tenant" })).tenant.id;
  });
  afterAll(() => testDb.close());

  async function newOrder(): Promise<string> {
    const result = await testDb.db.transaction((tx) =>
      insertOrder(tx, { tenantId, mode: "test" }, orderBody() as never),
    );
    if (result.kind !== "created") throw new Error("order not created");
    return result.order.id;
  }

  it("leaves no event and no change when the row fails after its trigger ran (a NOT NULL column)", async () => {
    const orderId = await newOrder();
    await expect(
      testDb.db.query(
        `insert into order_status_history (order_id, tenant_id, status, description)
         values ($1, $2, 'DRIVER_ASSIGNED', null)`,
        [orderId, tenantId],
      ),
    ).rejects.toMatchObject({ code: "23502" });
    expect((await eventsOf(testDb.db, orderId)).map((e) => e.type)).toEqual(["ORDER_CREATED"]);
    expect((await orderRow(testDb.db, orderId)).status).toBe("CREATED");
    expect(await historyOf(testDb.db, orderId)).toHaveLength(1);
  });

  it("writes one ORDER_CREATED event with the writer's row for an order and CREATED row of one transaction", async () => {
    const orderId = await testDb.db.transaction(async (tx) => {
      const { rows } = await tx.query<{ id: string }>(
        `insert into orders (tenant_id, mode, external_id, tracking_number, tracking_token, recipient, destination,
                             packages)
         values ($1, 'test', 'RAW-TX-1', 'CVHISTEVT0001', 'trk_h', '{"name":"A","phone":"+5730000000"}',
                 '{"city":"Cali","address_line1":"x","country":"CO"}', '[]')
         returning id`,
        [tenantId],
      );
      const id = rows[0]!.id;
      // In a savepoint: the order belongs to the outer transaction, not this subtransaction (the locking path).
      await tx.query("savepoint s");
      await tx.query(
        `insert into order_status_history (order_id, tenant_id, status, description, city, actor)
         values ($1, $2, 'CREATED', 'Imported', 'Medellín', 'import:test')`,
        [id, tenantId],
      );
      await tx.query("release savepoint s");
      return id;
    });
    const events = await eventsOf(testDb.db, orderId);
    expect(events.map((e) => e.type)).toEqual(["ORDER_CREATED"]);
    expect(events[0]!.payload).toMatchObject({
      order_id: orderId,
      external_id: "RAW-TX-1",
      tracking_number: "CVHISTEVT0001",
      status: "CREATED",
      description: "Imported",
      city: "Medellín",
    });
    expect((await historyOf(testDb.db, orderId)).map((h) => h.actor)).toEqual(["import:test"]);
  });

  it("still refuses a CREATED row for an order of another tenant or one that has its CREATED row", async () => {
    const other = (await createTenant(testDb.db, { name: "Other tenant" })).tenant.id;
    await expect(
      testDb.db.transaction(async (tx) => {
        const { rows } = await tx.query<{ id: string }>(
          `insert into orders (tenant_id, mode, external_id, tracking_number, tracking_token, recipient,
                               destination, packages)
           values ($1, 'test', 'RAW-TX-2', 'CVHISTEVT0002', 'trk_h', '{"name":"A","phone":"+5730000000"}',
                   '{"city":"Cali","address_line1":"x","country":"CO"}', '[]')
           returning id`,
          [tenantId],
        );
        await tx.query(
          `insert into order_status_history (order_id, tenant_id, status, description)
           values ($1, $2, 'CREATED', 'Order received')`,
          [rows[0]!.id, other],
        );
      }),
    ).rejects.toMatchObject({ code: "23514" });
    const orderId = await newOrder();
    await expect(
      testDb.db.query(
        `insert into order_status_history (order_id, tenant_id, status, description)
         values ($1, $2, 'CREATED', 'Order received')`,
        [orderId, tenantId],
      ),
    ).rejects.toMatchObject({ code: "CV409" });
    expect(await eventsOf(testDb.db, orderId)).toHaveLength(1);
  });
});
