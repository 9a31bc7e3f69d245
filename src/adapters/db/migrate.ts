import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { projectPath } from "../../project-root.ts";
import type { Db } from "./types.ts";

export interface Migration {
  version: string;
  name: string;
  sql: string;
}

export const defaultMigrationsDir = projectPath("supabase/migrations/");

const fileName = /^(\d+)_([a-z0-9_]+)\.sql$/;

/** Reads `NNNN_name.sql` files in version order. Other files are ignored, a malformed name is an error. */
export async function loadMigrations(dir: string = defaultMigrationsDir): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((file) => file.endsWith(".sql")).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = fileName.exec(file);
    if (!match) throw new Error(`Migration file name must look like 0001_name.sql: ${file}`);
    migrations.push({ version: match[1]!, name: match[2]!, sql: await readFile(`${dir}/${file}`, "utf8") });
  }
  const versions = new Set(migrations.map((m) => m.version));
  if (versions.size !== migrations.length) throw new Error(`Two migrations share a version in ${dir}`);
  return migrations;
}

/**
 * Versions `supabase db push` applied (it runs these same files and records them in its own table). Adopting them
 * lets the operator CLI and the Node service work on a database deployed the Supabase way. Empty elsewhere.
 */
async function supabasePushedVersions(db: Db): Promise<Set<string>> {
  const { rows } = await db.query<{ present: boolean }>(
    "select to_regclass('supabase_migrations.schema_migrations') is not null as present",
  );
  if (!rows[0]?.present) return new Set();
  const pushed = await db.query<{ version: string }>(
    "select version from supabase_migrations.schema_migrations",
  );
  return new Set(pushed.rows.map((row) => row.version));
}

// The same key for every process: whoever holds it applies, the others wait and then find nothing to do.
const lockKey = 74_220_511;

export interface MigrateResult {
  applied: string[];
  alreadyApplied: number;
}

/**
 * Applies pending migrations in order. Each one runs in its own transaction that first takes a transaction-scoped
 * advisory lock, so two processes starting together apply each migration exactly once, and a failing migration
 * leaves nothing behind. Refuses to run against a schema that has versions this code does not know (old code on a
 * newer database).
 */
export async function migrate(db: Db, migrations?: Migration[]): Promise<MigrateResult> {
  const list = migrations ?? (await loadMigrations());
  await db.transaction(async (tx) => {
    await tx.query("select pg_advisory_xact_lock($1)", [lockKey]);
    await tx.exec(`create table if not exists schema_migrations (
      version text primary key,
      name text not null,
      checksum text not null,
      applied_at timestamptz not null default now()
    )`);
  });
  const known = new Set(list.map((m) => m.version));
  const applied: string[] = [];
  let alreadyApplied = 0;
  const existing = await db.query<{ version: string }>("select version from schema_migrations");
  const unknown = existing.rows.map((r) => r.version).filter((v) => !known.has(v));
  if (unknown.length > 0) {
    throw new Error(
      `The database has migrations this code does not know (${unknown.join(", ")}): it is newer than this build. Deploy the newer code instead.`,
    );
  }
  const pushed = await supabasePushedVersions(db);
  for (const migration of list) {
    const checksum = createHash("sha256").update(migration.sql).digest("hex");
    const didApply = await db.transaction(async (tx) => {
      await tx.query("select pg_advisory_xact_lock($1)", [lockKey]);
      const found = await tx.query<{ checksum: string }>(
        "select checksum from schema_migrations where version = $1",
        [migration.version],
      );
      if (found.rows[0]) return false;
      if (pushed.has(migration.version)) {
        // Already applied by `supabase db push`: adopt it (record, never run twice).
        await tx.query("insert into schema_migrations (version, name, checksum) values ($1, $2, $3)", [
          migration.version,
          migration.name,
          checksum,
        ]);
        return false;
      }
      try {
        await tx.exec(migration.sql);
      } catch (error) {
        throw new Error(
          `Migration ${migration.version}_${migration.name} failed: ${(error as Error).message}`,
          { cause: error },
        );
      }
      await tx.query("insert into schema_migrations (version, name, checksum) values ($1, $2, $3)", [
        migration.version,
        migration.name,
        checksum,
      ]);
      return true;
    });
    if (didApply) applied.push(`${migration.version}_${migration.name}`);
    else alreadyApplied++;
  }
  return { applied, alreadyApplied };
}
