import { afterEach, describe, expect, it } from "vitest";
import { outcomeWritePlanSettings, outcomeWriteSql } from "../../src/domain/webhooks/queue.ts";
import { dbKinds, openTestDb, type TestDb } from "../support/db.ts";

/**
 * The outcome write keeps one generic plan per connection. Made on a new, empty deliveries table, a plan chosen by
 * cost alone reads the whole table on every write (a hash join over a sequential scan), which costs more with every
 * delivery as the table grows. Under the write's own settings the plan reaches every row by its key.
 */
describe.each(dbKinds)("the webhook outcome write's plan on %s", (kind) => {
  let t: TestDb | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it("reaches deliveries, subscriptions and attempts through indexes on a new database", async () => {
    t = await openTestDb(kind);
    const plan = await t.db.transaction(async (tx) => {
      await tx.exec(outcomeWritePlanSettings);
      await tx.exec(
        `prepare outcome_write_plan_check (text[], uuid[], int[], timestamptz[], int[], text[], int[], text[],
                                           text[], text[], timestamptz[], boolean[], float8) as ${outcomeWriteSql}`,
      );
      try {
        // One outcome, as literals: EXECUTE's arguments are not parameters of the EXPLAIN.
        const { rows } = await tx.query<{ "QUERY PLAN": string }>(
          `explain (costs off) execute outcome_write_plan_check ('{dlv_x}', '{${crypto.randomUUID()}}', '{1}',
             '{2026-01-01T00:00:00Z}', '{3}', '{succeeded}', '{204}', '{NULL}', '{NULL}', '{succeeded}', '{NULL}', '{false}', 3600000)`,
        );
        return rows.map((row) => row["QUERY PLAN"]).join("\n");
      } finally {
        await tx.exec("deallocate outcome_write_plan_check");
      }
    });
    expect(plan).toMatch(/Index Scan using webhook_deliveries_pkey on webhook_deliveries/);
    expect(plan).toMatch(/Index Scan using webhook_subscriptions_pkey/);
    expect(plan).not.toMatch(/Seq Scan/);
    expect(plan).not.toMatch(/Hash/);
    // A subscription's wait for its secret's key (0012) is kept only for the rows that change it: the updated rows
    // are filtered first, so a write where nothing waits reaches no subscription for it.
    expect(plan).toMatch(
      /Update on webhook_subscriptions[\s\S]*CTE Scan on updated \w+\n\s+Filter: CASE WHEN waits_for_secret/,
    );
  });
});
