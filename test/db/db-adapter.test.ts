import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dbKinds, openTestDb, type TestDb } from "../support/db.ts";

describe.each(dbKinds)("the Db interface on %s", (kind) => {
  let t: TestDb;
  beforeAll(async () => {
    t = await openTestDb(kind);
  });
  afterAll(() => t.close());

  it("maps types the same way on both engines", async () => {
    const { rows } = await t.db.query<Record<string, unknown>>(
      "select 42::int8 as big, 1.50::numeric(10,2) as num, '{\"a\":[1]}'::jsonb as doc, now() as ts, array['x','y'] as arr",
    );
    expect(rows[0]).toMatchObject({ big: 42, num: "1.50", doc: { a: [1] }, arr: ["x", "y"] });
    expect(rows[0]!.ts).toBeInstanceOf(Date);
  });

  it("commits a transaction that resolves and rolls back one that throws", async () => {
    await t.db.exec("create table tx_probe (v int)");
    await t.db.transaction(async (tx) => {
      await tx.query("insert into tx_probe values (1)");
    });
    await expect(
      t.db.transaction(async (tx) => {
        await tx.query("insert into tx_probe values (2)");
        throw new Error("changed my mind");
      }),
    ).rejects.toThrow("changed my mind");
    const { rows } = await t.db.query("select v from tx_probe");
    expect(rows).toEqual([{ v: 1 }]);
  });

  it("reports rows affected", async () => {
    await t.db.exec("create table count_probe (v int); insert into count_probe values (1), (2), (3);");
    expect((await t.db.query("update count_probe set v = v + 1 where v > 1")).rowCount).toBe(2);
    expect((await t.db.query("select * from count_probe")).rowCount).toBe(3);
  });

  it("delivers NOTIFY to listeners and stops after unsubscribe", async () => {
    const received: string[] = [];
    const unsubscribe = await t.db.listen("probe_channel", (payload) => received.push(payload));
    await t.db.query("select pg_notify('probe_channel', 'one')");
    for (let i = 0; i < 100 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(received).toEqual(["one"]);
    await unsubscribe();
    await t.db.query("select pg_notify('probe_channel', 'two')");
    await new Promise((r) => setTimeout(r, 100));
    expect(received).toEqual(["one"]);
  });

  it("notifies only when the transaction commits", async () => {
    const received: string[] = [];
    const unsubscribe = await t.db.listen("probe_tx", (payload) => received.push(payload));
    await t.db
      .transaction(async (tx) => {
        await tx.query("select pg_notify('probe_tx', 'rolled-back')");
        throw new Error("abort");
      })
      .catch(() => {});
    await t.db.transaction(async (tx) => {
      await tx.query("select pg_notify('probe_tx', 'committed')");
    });
    for (let i = 0; i < 100 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 50));
    expect(received).toEqual(["committed"]);
    await unsubscribe();
  });
});
