import { resolve } from "node:path";
import type { Config } from "../../config.ts";
import { openEmbeddedDb } from "./pglite.ts";
import { openPostgresDb } from "./postgres.ts";
import type { Db } from "./types.ts";

/** DATABASE_URL set: the real server; unset: embedded PGlite under DATA_DIR/pgdata. */
export function openDb(config: Config, onError?: (error: Error) => void): Promise<Db> {
  if (config.DATABASE_URL) {
    return openPostgresDb(config.DATABASE_URL, {
      poolMax: config.DATABASE_POOL_MAX,
      preparedStatements: config.DATABASE_PREPARED_STATEMENTS,
      ...(onError ? { onError } : {}),
    });
  }
  return openEmbeddedDb(resolve(config.DATA_DIR, "pgdata"));
}
