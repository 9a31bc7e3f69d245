import pg from "pg";
import { migrate } from "../../src/adapters/db/migrate.ts";
import { openEmbeddedDb } from "../../src/adapters/db/pglite.ts";
import { openPostgresDb } from "../../src/adapters/db/postgres.ts";
import type { Db, DbKind } from "../../src/adapters/db/types.ts";

/** The real PostgreSQL on the machine. Each test database is created from here and dropped afterwards. */
export const testPostgresUrl = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** Data-layer and HTTP tests run on both engines: `describe.each(dbKinds)`. */
export const dbKinds: DbKind[] = ["embedded", "postgres"];

export interface TestDb {
  db: Db;
  /** Connection URL of the private database (postgres kind only), for a second process or a raw client. */
  url?: string;
  close(): Promise<void>;
}

function urlWithDatabase(base: string, database: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * A fresh, migrated database of the given kind. On PostgreSQL each call creates its own database on the shared
 * server (so test files run in parallel without seeing each other's rows or notifications) and drops it on close.
 */
export async function openTestDb(kind: DbKind, options: { migrate?: boolean } = {}): Promise<TestDb> {
  if (kind === "embedded") {
    const db = await openEmbeddedDb();
    if (options.migrate !== false) await migrate(db);
    return { db, close: () => db.close() };
  }
  const name = `cc_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: testPostgresUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = urlWithDatabase(testPostgresUrl, name);
  const db = await openPostgresDb(url, { poolMax: 5 });
  if (options.migrate !== false) await migrate(db);
  return {
    db,
    url,
    async close() {
      await db.close();
      const dropper = new pg.Client({ connectionString: testPostgresUrl });
      await dropper.connect();
      await dropper.query(`drop database if exists ${name} with (force)`);
      await dropper.end();
    },
  };
}
