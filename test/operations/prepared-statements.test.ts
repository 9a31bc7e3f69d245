import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openTestDb, type TestDb } from "../support/db.ts";

describe("named (prepared) statements on PostgreSQL", () => {
  let testDb: TestDb;
  beforeAll(async () => {
    testDb = await openTestDb("postgres", { migrate: false });
    await testDb.db.exec("create table prepared_probe (id int primary key, label text)");
    await testDb.db.exec("insert into prepared_probe values (1, 'one'), (2, 'two')");
  });
  afterAll(() => testDb?.close());

  it("runs parameterised statements as named ones, prepared once per connection", async () => {
    for (const id of [1, 2, 1, 2, 1]) {
      const { rows } = await testDb.db.query<{ label: string }>(
        "select label from prepared_probe where id = $1",
        [id],
      );
      expect(rows[0]?.label).toBe(id === 1 ? "one" : "two");
    }
    const { rows } = await testDb.db.query<{ statement: string }>(
      "select statement from pg_prepared_statements where name like 'cc%'",
    );
    // pg_prepared_statements shows this connection's: the probe statement is among them.
    const { rows: again } = await testDb.db.transaction((tx) =>
      tx.query<{ statement: string }>("select statement from pg_prepared_statements where name like $1", [
        "cc%",
      ]),
    );
    const seen = [...rows, ...again].map((row) => row.statement);
    expect(seen.some((text) => text.includes("from prepared_probe"))).toBe(true);
  });

  it("recovers by itself when a schema change makes a prepared `select *` stale", async () => {
    const read = () =>
      testDb.db.query<Record<string, unknown>>("select * from prepared_probe where id = $1", [1]);
    // Prepare it on every pooled connection that may serve the next call.
    await Promise.all(Array.from({ length: 5 }, read));
    await testDb.db.exec("alter table prepared_probe add column extra text default 'x'");
    for (let i = 0; i < 6; i++) {
      const { rows } = await read();
      expect(rows[0]).toMatchObject({ id: 1, label: "one", extra: "x" });
    }
  });

  it("keeps statements without parameters on the simple protocol (several statements at once)", async () => {
    await testDb.db.exec(
      "update prepared_probe set label = 'uno' where id = 1; update prepared_probe set label = 'dos' where id = 2",
    );
    const { rows } = await testDb.db.query<{ label: string }>("select label from prepared_probe order by id");
    expect(rows.map((row) => row.label)).toEqual(["uno", "dos"]);
  });
});
