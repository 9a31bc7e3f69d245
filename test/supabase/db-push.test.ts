import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadMigrations, migrate } from "../../src/adapters/db/migrate.ts";
import { openPostgresDb } from "../../src/adapters/db/postgres.ts";
import type { Db } from "../../src/adapters/db/types.ts";
import { createTenant } from "../../src/domain/tenants/store.ts";
import { createScratchDatabase } from "./roles.ts";

// On Supabase the migrations are applied by `supabase db push`, which runs the same files and records their
// versions in supabase_migrations.schema_migrations. The Node service and the operator CLI (which migrate on
// start) must then adopt those versions, not run the files a second time.
describe("a database migrated by `supabase db push`", () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let db: Db;

  beforeAll(async () => {
    scratch = await createScratchDatabase();
    const client = new pg.Client({ connectionString: scratch.url });
    await client.connect();
    // What the Supabase CLI does: its history table, then each file in its own transaction, then its version.
    await client.query(`create schema supabase_migrations;
      create table supabase_migrations.schema_migrations (version text primary key, statements text[], name text)`);
    for (const migration of await loadMigrations()) {
      await client.query("begin");
      await client.query(migration.sql);
      await client.query(
        "insert into supabase_migrations.schema_migrations (version, name) values ($1, $2)",
        [migration.version, migration.name],
      );
      await client.query("commit");
    }
    await client.end();
    db = await openPostgresDb(scratch.url, { poolMax: 2 });
  });
  afterAll(async () => {
    await db?.close();
    await scratch?.drop();
  });

  it("is adopted by the service's migrator: every version recorded, none applied again", async () => {
    const migrations = await loadMigrations();
    const result = await migrate(db);
    expect(result).toEqual({ applied: [], alreadyApplied: migrations.length });
    const { rows } = await db.query<{ version: string }>(
      "select version from schema_migrations order by version",
    );
    expect(rows.map((row) => row.version)).toEqual(migrations.map((m) => m.version));
    // And the next start finds nothing to do either.
    expect(await migrate(db)).toEqual({ applied: [], alreadyApplied: migrations.length });
  });

  it("serves the operator CLI's work, and keeps RLS on the table the migrator added", async () => {
    const { tenant } = await createTenant(db, { name: "Pushed Tenant", mode: "test" });
    expect(tenant.id).toMatch(/^[0-9a-f-]{36}$/);
    const { rows } = await db.query<{ relrowsecurity: boolean }>(
      "select relrowsecurity from pg_class where oid = 'public.schema_migrations'::regclass",
    );
    expect(rows[0]!.relrowsecurity).toBe(true);
  });
});
