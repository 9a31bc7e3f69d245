import pg from "pg";
import { testPostgresUrl } from "../support/db.ts";

/**
 * Supabase's client-facing roles, created on the test server as Supabase creates them: `anon` and `authenticated`
 * are what PostgREST and Realtime switch to for callers, `service_role` bypasses RLS, `authenticator` is the login
 * role that switches. Roles are cluster-wide, so this is idempotent and safe when test files race to it.
 */
export async function ensureSupabaseRoles(): Promise<void> {
  const admin = new pg.Client({ connectionString: testPostgresUrl });
  await admin.connect();
  try {
    for (const statement of [
      "create role anon nologin noinherit",
      "create role authenticated nologin noinherit",
      "create role service_role nologin noinherit bypassrls",
      "create role authenticator login noinherit",
      "grant anon, authenticated, service_role to authenticator",
    ]) {
      try {
        await admin.query(statement);
      } catch (error) {
        // 42710: exists already; 23505 / XX000 (tuple concurrently updated): another test file made it meanwhile.
        const code = (error as { code?: string }).code;
        if (code !== "42710" && code !== "23505" && code !== "XX000") throw error;
      }
    }
  } finally {
    await admin.end();
  }
}

/**
 * What a Supabase project grants in `public` before any migration runs: usage on the schema, and every privilege on
 * every future table, sequence and function to the three roles. RLS is what keeps `anon` out of the tables.
 */
export const supabasePublicGrants = `
  grant usage on schema public to anon, authenticated, service_role;
  alter default privileges in schema public grant all on tables to anon, authenticated, service_role;
  alter default privileges in schema public grant all on sequences to anon, authenticated, service_role;
  alter default privileges in schema public grant all on functions to anon, authenticated, service_role;
`;

/** A private, empty database on the test server; `drop()` removes it. */
export async function createScratchDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `cc_supabase_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: testPostgresUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(testPostgresUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const dropper = new pg.Client({ connectionString: testPostgresUrl });
      await dropper.connect();
      await dropper.query(`drop database if exists ${name} with (force)`);
      await dropper.end();
    },
  };
}

/** Tables in the schemas our migrations write to (everything but PostgreSQL's own), straight from the catalog. */
export const userTablesQuery = `
  select format('%I.%I', n.nspname, c.relname) as name, c.relrowsecurity as rls
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
   where c.relkind in ('r', 'p')
     and n.nspname not in ('pg_catalog', 'information_schema')
     and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp%'
   order by 1`;
