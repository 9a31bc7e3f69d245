import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Queryable } from "../../src/adapters/db/types.ts";
import type { CreateOrderInput } from "../../src/domain/orders/schemas.ts";
import { insertOrder } from "../../src/domain/orders/store.ts";
import { TrackingReader } from "../../src/domain/orders/tracking.ts";
import { createTenant } from "../../src/domain/tenants/store.ts";
import { dbKinds, openTestDb, type TestDb } from "../support/db.ts";

function input(externalId: string, city: string): CreateOrderInput {
  return {
    external_id: externalId,
    recipient: { name: "Valentina Gómez", phone: "+573001234567" },
    destination: { address_line1: "Carrera 7 # 71-21", city, country: "CO" },
    packages: [{ weight_kg: 1 }],
  } as CreateOrderInput;
}

/**
 * Tracking reads of concurrent requests are batched: fewer queries than requests under load, each request with
 * its own order (or null), and a failed query fails only the requests it carried.
 */
describe.each(dbKinds)("tracking reads in batches on %s", (kind) => {
  let testDb: TestDb;
  const orders: { number: string; city: string }[] = [];
  beforeAll(async () => {
    testDb = await openTestDb(kind);
    const { tenant } = await createTenant(testDb.db, { name: "Batch" });
    for (let i = 0; i < 12; i++) {
      const city = `City ${i}`;
      const result = await testDb.db.transaction((tx) =>
        insertOrder(tx, { tenantId: tenant.id, mode: "test" }, input(`B-${i}`, city)),
      );
      if (result.kind !== "created") throw new Error("order not created");
      orders.push({ number: result.order.tracking_number, city });
    }
  });
  afterAll(() => testDb.close());

  it("answers 300 concurrent lookups (known, repeated and unknown numbers) with far fewer queries", async () => {
    const reader = new TrackingReader(testDb.db, { maxInFlight: 2, maxBatch: 50 });
    const asked = Array.from({ length: 300 }, (_, i) =>
      i % 10 === 9 ? `CVUNKNOWN${i}` : (orders[i % orders.length] as { number: string }).number,
    );
    const results = await Promise.all(asked.map((n) => reader.read(n)));
    for (const [i, number] of asked.entries()) {
      const found = results[i];
      if (number.startsWith("CVUNKNOWN")) {
        expect(found).toBeNull();
        continue;
      }
      const expected = orders.find((o) => o.number === number);
      expect(found?.order.tracking_number).toBe(number);
      expect(found?.order.destination_city).toBe(expected?.city);
      expect(found?.history.map((h) => h.status)).toEqual(["CREATED"]);
    }
    expect(reader.stats.lookups).toBe(300);
    // Asked in one turn: two reads of 50 at its end, then the rest as reads finish, at most 50 at a time.
    expect(reader.stats.queries).toBeLessThanOrEqual(10);
    expect(reader.stats.queries).toBeGreaterThanOrEqual(6);
  });

  it("sends a lone request alone, at the end of its turn, with nothing else in flight", async () => {
    const reader = new TrackingReader(testDb.db, { maxInFlight: 2, maxBatch: 50 });
    const first = orders[0] as { number: string };
    expect((await reader.read(first.number))?.order.tracking_number).toBe(first.number);
    expect(reader.stats).toEqual({ queries: 1, lookups: 1 });
  });

  it("fails only the requests of a failed query, and goes on reading", async () => {
    let failNext = true;
    const flaky: Queryable = {
      query: (text, params) => {
        if (failNext) {
          failNext = false;
          return Promise.reject(new Error("connection lost"));
        }
        return testDb.db.query(text, params);
      },
      exec: (text) => testDb.db.exec(text),
    };
    const reader = new TrackingReader(flaky, { maxInFlight: 1, maxBatch: 50 });
    const [a, b] = [orders[0], orders[1]] as { number: string }[];
    // The lone read starts at the end of this turn (and fails); the next two queue behind it.
    const lone = expect(reader.read(a!.number)).rejects.toThrow("connection lost");
    await new Promise((resolve) => setImmediate(resolve));
    const queued = [reader.read(b!.number), reader.read(a!.number)];
    await lone;
    const after = await Promise.all(queued);
    expect(after.map((found) => found?.order.tracking_number)).toEqual([b!.number, a!.number]);
    expect(reader.stats).toEqual({ queries: 2, lookups: 3 });
  });
});
