import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadMigrations, migrate } from "../../src/adapters/db/migrate.ts";
import { openEmbeddedDb } from "../../src/adapters/db/pglite.ts";
import { openPostgresDb } from "../../src/adapters/db/postgres.ts";
import { dbKinds, openTestDb } from "../support/db.ts";

describe.each(dbKinds)("migrations on %s", (kind) => {
  it("applies every migration in order, records it, and is a no-op the second time", async () => {
    const t = await openTestDb(kind, { migrate: false });
    try {
      const all = await loadMigrations();
      expect(all.map((m) => m.version)).toEqual([...all.map((m) => m.version)].sort());
      const first = await migrate(t.db);
      expect(first.applied).toHaveLength(all.length);
      const second = await migrate(t.db);
      expect(second).toEqual({ applied: [], alreadyApplied: all.length });
      const { rows } = await t.db.query<{ version: string }>(
        "select version from schema_migrations order by version",
      );
      expect(rows.map((r) => r.version)).toEqual(all.map((m) => m.version));
      for (const table of [
        "tenants",
        "api_keys",
        "orders",
        "order_status_history",
        "events",
        "idempotency_keys",
      ]) {
        const found = await t.db.query("select 1 from information_schema.tables where table_name = $1", [
          table,
        ]);
        expect(found.rowCount, table).toBe(1);
      }
    } finally {
      await t.close();
    }
  });

  it("leaves on the tables every event writes only the indexes a query or constraint uses (0015)", async () => {
    // Each index here is written at every insert of its table, and a delivery's at its claim and its outcome too.
    // A new one belongs here only with the query that reads it.
    const t = await openTestDb(kind);
    try {
      const { rows } = await t.db.query<{ table_name: string; index_name: string }>(
        `select c.relname as table_name, i.relname as index_name
           from pg_index x
           join pg_class c on c.oid = x.indrelid
           join pg_class i on i.oid = x.indexrelid
          where c.relname in ('orders', 'order_status_history', 'events', 'webhook_deliveries')
          order by 1, 2`,
      );
      const byTable = new Map<string, string[]>();
      for (const row of rows)
        byTable.set(row.table_name, [...(byTable.get(row.table_name) ?? []), row.index_name]);
      expect(Object.fromEntries(byTable)).toEqual({
        events: ["events_created_brin", "events_order_idx", "events_pkey"],
        order_status_history: ["order_status_history_order_idx", "order_status_history_pkey"],
        orders: [
          "orders_pkey",
          "orders_tenant_id_mode_external_id_key",
          "orders_tenant_list_idx",
          "orders_tenant_status_idx",
          "orders_tracking_number_key",
        ],
        webhook_deliveries: [
          "webhook_deliveries_created_brin",
          "webhook_deliveries_due_idx",
          "webhook_deliveries_pkey",
          "webhook_deliveries_subscription_due_idx",
          "webhook_deliveries_subscription_id_event_id_key",
          "webhook_deliveries_subscription_idx",
        ],
      });
    } finally {
      await t.close();
    }
  });

  it("rolls a failing migration back whole and applies nothing after it", async () => {
    const t = await openTestDb(kind, { migrate: false });
    try {
      const migrations = [
        { version: "0001", name: "good", sql: "create table a (id int);" },
        { version: "0002", name: "bad", sql: "create table b (id int); select no_such_function();" },
        { version: "0003", name: "later", sql: "create table c (id int);" },
      ];
      await expect(migrate(t.db, migrations)).rejects.toThrow(/0002_bad failed/);
      const tables = await t.db.query<{ table_name: string }>(
        "select table_name from information_schema.tables where table_name in ('a','b','c') order by 1",
      );
      expect(tables.rows.map((r) => r.table_name)).toEqual(["a"]);
    } finally {
      await t.close();
    }
  });

  it("refuses to run old code against a newer schema", async () => {
    const t = await openTestDb(kind);
    try {
      await t.db.query(
        "insert into schema_migrations (version, name, checksum) values ('9999', 'future', 'x')",
      );
      await expect(migrate(t.db)).rejects.toThrow(/newer than this build/);
    } finally {
      await t.close();
    }
  });
});

describe("migrations from two processes at once (real PostgreSQL)", () => {
  it("applies each migration exactly once", async () => {
    const t = await openTestDb("postgres", { migrate: false });
    const other = await openPostgresDb(t.url!);
    try {
      const [a, b] = await Promise.all([migrate(t.db), migrate(other)]);
      const all = await loadMigrations();
      expect(a.applied.length + b.applied.length).toBe(all.length);
      expect(a.alreadyApplied + b.alreadyApplied).toBe(all.length);
    } finally {
      await other.close();
      await t.close();
    }
  });
});

describe("the embedded database on disk", () => {
  const dir = mkdtempSync(join(tmpdir(), "cellvi-embedded-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("keeps its data across a restart", async () => {
    const first = await openEmbeddedDb(dir);
    await migrate(first);
    await first.query("insert into tenants (name) values ('Persistent SAS')");
    await first.close();
    const second = await openEmbeddedDb(dir);
    const { rows } = await second.query<{ name: string }>("select name from tenants");
    expect(rows).toEqual([{ name: "Persistent SAS" }]);
    expect((await migrate(second)).applied).toEqual([]);
    await second.close();
  });
});
