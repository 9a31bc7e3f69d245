import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "../../src/adapters/db/migrate.ts";
import { openPostgresDb } from "../../src/adapters/db/postgres.ts";
import type { Db } from "../../src/adapters/db/types.ts";
import { createOrder } from "../../src/domain/orders/store.ts";
import { createTenant } from "../../src/domain/tenants/store.ts";
import { dbKinds, openTestDb, type TestDb } from "../support/db.ts";
import {
  createScratchDatabase,
  ensureSupabaseRoles,
  supabasePublicGrants,
  userTablesQuery,
} from "./roles.ts";

// The seed puts the API gateway in front of Supabase "to protect the database". These tests hold the migrations to
// it: every table has Row Level Security with no policy, so Supabase's client roles (anon, authenticated) read and
// write nothing, while the service (table owner, or service_role) works as before. The table list always comes from
// the catalog, so a table added by any later migration is covered without touching this file.

describe.each(dbKinds)("row level security on every table (%s)", (kind) => {
  let testDb: TestDb;

  beforeAll(async () => {
    testDb = await openTestDb(kind);
  });
  afterAll(async () => {
    await testDb?.close();
  });

  it("enables RLS on every table the migrations create", async () => {
    const { rows } = await testDb.db.query<{ name: string; rls: boolean }>(userTablesQuery);
    expect(rows.length).toBeGreaterThan(5);
    expect(rows.filter((row) => !row.rls).map((row) => row.name)).toEqual([]);
  });

  it("defines no policy, so nothing opens a table to a client role", async () => {
    const { rows } = await testDb.db.query<{ tablename: string; policyname: string }>(
      "select tablename, policyname from pg_policies",
    );
    expect(rows).toEqual([]);
  });

  it("locks down a table created after the migrations too (a later migration, a hand-made table)", async () => {
    await testDb.db.exec("create table rls_probe_later (id int primary key)");
    await testDb.db.exec("create table rls_probe_as as select 1 as id");
    const { rows } = await testDb.db.query<{ relname: string; relrowsecurity: boolean }>(
      "select relname, relrowsecurity from pg_class where relname in ('rls_probe_later', 'rls_probe_as') order by 1",
    );
    expect(rows).toEqual([
      { relname: "rls_probe_as", relrowsecurity: true },
      { relname: "rls_probe_later", relrowsecurity: true },
    ]);
  });
});

/** Runs `fn` as `role` in a transaction that is always rolled back, so no probe can leave anything behind. */
async function asRole<T>(client: pg.Client, role: string, fn: () => Promise<T>): Promise<T> {
  await client.query("begin");
  try {
    await client.query(`set local role ${role}`);
    return await fn();
  } finally {
    await client.query("rollback");
  }
}

/** The SQLSTATE of the error `fn` throws, inside a savepoint so the surrounding transaction survives it. */
async function errorCode(client: pg.Client, fn: () => Promise<unknown>): Promise<string | undefined> {
  await client.query("savepoint probe");
  try {
    await fn();
    await client.query("release savepoint probe");
    return undefined;
  } catch (error) {
    await client.query("rollback to savepoint probe");
    return (error as { code?: string }).code ?? "unknown";
  }
}

describe("Supabase's anon and authenticated roles on the real PostgreSQL", () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let db: Db;
  let client: pg.Client;
  let tables: string[];
  let ownerCounts: Map<string, number>;

  beforeAll(async () => {
    await ensureSupabaseRoles();
    scratch = await createScratchDatabase();
    // The grants exist before the first migration, as on a new Supabase project: every table is created already
    // granted to anon, and RLS alone must keep it out.
    const setup = new pg.Client({ connectionString: scratch.url });
    await setup.connect();
    await setup.query(supabasePublicGrants);
    await setup.end();
    db = await openPostgresDb(scratch.url, { poolMax: 3 });
    await migrate(db);

    // Data in the core tables, written the way the service writes it; a webhook subscription first, so the order's
    // event fans out into a delivery.
    const { tenant } = await createTenant(db, { name: "RLS Tenant", mode: "test" });
    await db.query(
      `insert into webhook_subscriptions (tenant_id, mode, url, events, secret)
       values ($1, 'test', 'https://hooks.example.com/cellvi', '{*}', 'whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0')`,
      [tenant.id],
    );
    await createOrder(db, { tenantId: tenant.id, mode: "test" }, {
      external_id: "RLS-1",
      recipient: { name: "Valentina Gómez", phone: "+573001234567" },
      destination: { address_line1: "Carrera 7 # 71-21", city: "Bogotá", country: "CO" },
      packages: [{ weight_kg: 1.2 }],
    } as Parameters<typeof createOrder>[2]);
    await db.query(
      `insert into idempotency_keys (tenant_id, mode, key, request_fingerprint, response_status, response_body)
       values ($1, 'test', 'rls-probe', 'POST /v1/orders/create', 201, '{}')`,
      [tenant.id],
    );

    client = new pg.Client({ connectionString: scratch.url });
    await client.connect();
    tables = (await client.query<{ name: string }>(userTablesQuery)).rows.map((row) => row.name);
    ownerCounts = new Map();
    for (const table of tables) {
      const { rows } = await client.query<{ n: number }>(`select count(*)::int as n from ${table}`);
      ownerCounts.set(table, rows[0]!.n);
    }
  });

  afterAll(async () => {
    await client?.end();
    await db?.close();
    await scratch?.drop();
  });

  it("has the core tables populated, so reading nothing proves something", () => {
    for (const table of [
      "public.tenants",
      "public.api_keys",
      "public.orders",
      "public.order_status_history",
      "public.events",
      "public.idempotency_keys",
      "public.webhook_subscriptions",
      "public.webhook_deliveries",
    ]) {
      expect(ownerCounts.get(table), table).toBeGreaterThan(0);
    }
  });

  it("still grants anon every table privilege, as Supabase does (RLS is what stops it)", async () => {
    const { rows } = await client.query<{ name: string }>(
      `select t.name from (${userTablesQuery}) t
        where not has_table_privilege('anon', t.name, 'select, insert, update, delete')`,
    );
    expect(rows.map((row) => row.name)).toEqual([]);
  });

  it("leaves anon and authenticated none of the table privileges RLS cannot govern", async () => {
    const { rows: version } = await client.query<{ n: number }>(
      "select current_setting('server_version_num')::int as n",
    );
    const privileges = [
      "TRUNCATE",
      "REFERENCES",
      "TRIGGER",
      ...(version[0]!.n >= 170000 ? ["MAINTAIN"] : []),
    ];
    const held: string[] = [];
    for (const role of ["anon", "authenticated"]) {
      for (const table of tables) {
        for (const privilege of privileges) {
          const { rows } = await client.query<{ has: boolean }>(
            "select has_table_privilege($1, $2, $3) as has",
            [role, table, privilege],
          );
          if (rows[0]!.has) held.push(`${role} ${privilege} ${table}`);
        }
      }
    }
    expect(held).toEqual([]);
  });

  describe.each(["anon", "authenticated"])("as %s", (role) => {
    it("reads no row of any table", async () => {
      const visible = await asRole(client, role, async () => {
        const found: Record<string, number> = {};
        for (const table of tables) {
          const { rows } = await client.query<{ n: number }>(`select count(*)::int as n from ${table}`);
          if (rows[0]!.n > 0) found[table] = rows[0]!.n;
        }
        return found;
      });
      expect(visible).toEqual({});
    });

    it("cannot insert into any table", async () => {
      const outcomes = await asRole(client, role, async () => {
        const codes: Record<string, string | undefined> = {};
        for (const table of tables) {
          codes[table] = await errorCode(client, () => client.query(`insert into ${table} default values`));
        }
        return codes;
      });
      // 42501 insufficient_privilege: "new row violates row-level security policy" (checked before any
      // constraint, so the refusal does not depend on which columns have defaults).
      expect(outcomes).toEqual(Object.fromEntries(tables.map((table) => [table, "42501"])));
    });

    it("updates and deletes nothing, and cannot truncate", async () => {
      const outcomes = await asRole(client, role, async () => {
        const result: Record<string, { updated: number; deleted: number; truncate: string | undefined }> = {};
        for (const table of tables) {
          const { rows } = await client.query<{ column_name: string }>(
            `select a.attname as column_name from pg_attribute a
              where a.attrelid = $1::regclass and a.attnum > 0 and not a.attisdropped
                and a.attgenerated = '' and a.attidentity = ''
              order by a.attnum limit 1`,
            [table],
          );
          const column = pg.escapeIdentifier(rows[0]!.column_name);
          const updated = await client.query(`update ${table} set ${column} = ${column}`);
          const deleted = await client.query(`delete from ${table}`);
          const truncate = await errorCode(client, () => client.query(`truncate ${table} cascade`));
          result[table] = { updated: updated.rowCount ?? -1, deleted: deleted.rowCount ?? -1, truncate };
        }
        return result;
      });
      expect(outcomes).toEqual(
        Object.fromEntries(tables.map((table) => [table, { updated: 0, deleted: 0, truncate: "42501" }])),
      );
      // And the owner still sees every row.
      for (const table of tables) {
        const { rows } = await client.query<{ n: number }>(`select count(*)::int as n from ${table}`);
        expect(rows[0]!.n, table).toBe(ownerCounts.get(table));
      }
    });

    it("cannot advance a sequence, invoke the dispatcher or claim deliveries", async () => {
      const codes = await asRole(client, role, async () => {
        const { rows: sequences } = await client.query<{ name: string }>(
          `select format('%I.%I', n.nspname, c.relname) as name from pg_class c
             join pg_namespace n on n.oid = c.relnamespace
            where c.relkind = 'S' and n.nspname = 'public' order by 1`,
        );
        const result: Record<string, string | undefined> = {};
        for (const sequence of sequences) {
          result[sequence.name] = await errorCode(client, () =>
            client.query("select nextval($1)", [sequence.name]),
          );
        }
        result.dispatcher = await errorCode(client, () =>
          client.query("select cellvi_invoke_webhook_dispatcher('anon')"),
        );
        result.claim = await errorCode(client, () =>
          client.query(
            "select * from cellvi_claim_webhook_deliveries(now(), '{}', 10, '{}', '{}', 1, 10, gen_random_uuid(), 1000)",
          ),
        );
        return result;
      });
      expect(Object.keys(codes).length).toBeGreaterThan(3);
      expect(Object.values(codes).every((code) => code === "42501")).toBe(true);
    });
  });

  it("lets service_role (BYPASSRLS), the role a gateway may connect as, read everything", async () => {
    const counts = await asRole(client, "service_role", async () => {
      const found = new Map<string, number>();
      for (const table of tables) {
        const { rows } = await client.query<{ n: number }>(`select count(*)::int as n from ${table}`);
        found.set(table, rows[0]!.n);
      }
      return found;
    });
    expect(counts).toEqual(ownerCounts);
  });

  it("lets service_role claim deliveries (the claim is a function, revoked from everyone else)", async () => {
    const { rows } = await asRole(client, "service_role", () =>
      client.query(
        // A claim of nothing: the function runs, and leaves the delivery the other tests count where it is.
        "select * from cellvi_claim_webhook_deliveries(now(), '{}', 10, '{}', '{}', 1, 0, gen_random_uuid(), 1000)",
      ),
    );
    expect(rows).toEqual([]);
  });
});
