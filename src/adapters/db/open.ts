import { resolve } from "node:path";
import type { Config } from "../../config.ts";
import { openPostgresDb } from "./postgres.ts";
import type { Db } from "./types.ts";

/**
 * DATABASE_URL set: the real server; unset: embedded PGlite under DATA_DIR/pgdata. PGlite is imported only when it
 * is used: loading it costs a process about 45 MiB of memory that a server on PostgreSQL has no use for.
 */
export async function openDb(config: Config, onError?: (error: Error) => void): Promise<Db> {
  if (config.DATABASE_URL) {
    return openPostgresDb(config.DATABASE_URL, {
      poolMax: config.DATABASE_POOL_MAX,
      preparedStatements: config.DATABASE_PREPARED_STATEMENTS,
      ...(onError ? { onError } : {}),
    });
  }
  const { openEmbeddedDb } = await import("./pglite.ts");
  return openEmbeddedDb(resolve(config.DATA_DIR, "pgdata"));
}
