import { mkdirSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import type { Db, Queryable, QueryResult } from "./types.ts";

interface PgliteLike {
  query<Row>(
    text: string,
    params?: unknown[],
  ): Promise<{ rows: Row[]; affectedRows?: number; fields: unknown[] }>;
  exec(text: string): Promise<unknown>;
}

function wrap(target: PgliteLike): Queryable {
  return {
    async query<Row>(text: string, params: readonly unknown[] = []): Promise<QueryResult<Row>> {
      const result = await target.query<Row>(text, params as unknown[]);
      const affected = result.affectedRows ?? 0;
      return { rows: result.rows, rowCount: result.fields.length > 0 ? result.rows.length : affected };
    },
    async exec(text: string): Promise<void> {
      await target.exec(text);
    },
  };
}

/**
 * Embedded PostgreSQL (PGlite, WebAssembly). `dataDir` undefined means in memory (tests); otherwise the data lives
 * on disk and survives a restart. One process owns a data directory: see `src/cli/` for how the CLI reaches a
 * running service instead of opening the directory a second time.
 */
export async function openEmbeddedDb(dataDir?: string): Promise<Db> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const pg = dataDir ? new PGlite(dataDir) : new PGlite();
  await pg.waitReady;
  const base = wrap(pg);
  return {
    kind: "embedded",
    query: base.query,
    exec: base.exec,
    // PGlite serialises transactions itself: other queries wait until this one ends.
    transaction: (fn) => pg.transaction((tx) => fn(wrap(tx))),
    async listen(channel, onNotify) {
      const unsubscribe = await pg.listen(channel, onNotify);
      return async () => unsubscribe();
    },
    async ping() {
      await pg.query("select 1");
    },
    async close() {
      if (!pg.closed) await pg.close();
    },
  };
}
