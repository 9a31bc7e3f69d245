import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPostgresDb } from "../../src/adapters/db/postgres.ts";
import type { Db } from "../../src/adapters/db/types.ts";
import { openTestDb, type TestDb } from "../support/db.ts";

// Behind Supabase's transaction pooler (port 6543) consecutive statements of one client may run on different
// server connections, so a named prepared statement made on one is missing on the next. The Edge Functions turn
// naming off (DATABASE_PREPARED_STATEMENTS=false); this proves that then nothing is ever prepared by name.
describe("DATABASE_PREPARED_STATEMENTS on PostgreSQL", () => {
  let testDb: TestDb;
  beforeAll(async () => {
    testDb = await openTestDb("postgres", { migrate: false });
  });
  afterAll(async () => {
    await testDb?.close();
  });

  async function preparedAfterQueries(preparedStatements: boolean | undefined): Promise<number> {
    // One connection, so the session that ran the queries is the one whose prepared statements are counted.
    const db: Db = await openPostgresDb(testDb.url!, {
      poolMax: 1,
      ...(preparedStatements === undefined ? {} : { preparedStatements }),
    });
    try {
      for (let i = 0; i < 3; i++) await db.query("select $1::int + 1 as n", [i]);
      const { rows } = await db.query<{ n: number }>("select count(*)::int as n from pg_prepared_statements");
      return rows[0]!.n;
    } finally {
      await db.close();
    }
  }

  it("names parameterised statements by default (prepared once per connection)", async () => {
    expect(await preparedAfterQueries(undefined)).toBeGreaterThan(0);
  });

  it("prepares nothing by name when turned off, as behind a transaction-mode pooler", async () => {
    expect(await preparedAfterQueries(false)).toBe(0);
  });
});
