import pg from "pg";
import { asDatabaseError, connectionFailureReason } from "./errors.ts";
import type { Db, Queryable, QueryResult } from "./types.ts";

// int8 (counts, bigserial cursors) as a JS number: every value we store fits in 2^53.
pg.types.setTypeParser(20, (value) => Number(value));

interface PgQueryable {
  query(text: string, params?: unknown[]): Promise<pg.QueryResult>;
}

function wrap(target: PgQueryable): Queryable {
  return {
    async query<Row>(text: string, params: readonly unknown[] = []): Promise<QueryResult<Row>> {
      try {
        const result = await target.query(text, params as unknown[]);
        return { rows: result.rows as Row[], rowCount: result.rowCount ?? result.rows.length };
      } catch (error) {
        throw asDatabaseError(error);
      }
    },
    async exec(text: string): Promise<void> {
      try {
        // No parameters: pg uses the simple query protocol, which accepts several statements.
        await target.query(text);
      } catch (error) {
        throw asDatabaseError(error);
      }
    },
  };
}

export interface PostgresOptions {
  poolMax?: number;
  /** Called with connection errors of idle clients and of the listener, which must never crash the process. */
  onError?: (error: Error) => void;
}

/** A real PostgreSQL server (Supabase in production) through a connection pool. */
export async function openPostgresDb(url: string, options: PostgresOptions = {}): Promise<Db> {
  const onError = options.onError ?? (() => {});
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolMax ?? 10,
    // A request waits at most this long for a connection, then gets a 503: never an unbounded hang.
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    // Notices a server that vanished without closing the socket (a network partition) instead of waiting forever.
    keepAlive: true,
  });
  pool.on("error", onError);
  const base = wrap(pool);

  const listeners = new Map<string, Set<(payload: string) => void>>();
  let listenClient: pg.Client | undefined;
  let connecting: Promise<void> | undefined;
  let closed = false;
  let reconnectTimer: ReturnType<typeof setTimeout> | undefined;

  async function connectListener(): Promise<void> {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
    client.on("notification", (message) => {
      for (const handler of listeners.get(message.channel) ?? []) handler(message.payload ?? "");
    });
    const reconnect = (error?: Error) => {
      if (error) onError(error);
      if (listenClient !== client) return;
      listenClient = undefined;
      client.end().catch(() => {});
      if (!closed && listeners.size > 0) {
        reconnectTimer = setTimeout(() => {
          ensureListener().catch(onError);
        }, 500);
      }
    };
    client.on("error", reconnect);
    client.on("end", () => reconnect());
    await client.connect();
    listenClient = client;
    for (const channel of listeners.keys()) await client.query(`listen ${pg.escapeIdentifier(channel)}`);
  }

  async function ensureListener(): Promise<void> {
    if (listenClient || closed) return;
    connecting ??= connectListener().finally(() => {
      connecting = undefined;
    });
    try {
      await connecting;
    } catch (error) {
      onError(error as Error);
      if (!closed) {
        reconnectTimer = setTimeout(() => {
          ensureListener().catch(onError);
        }, 1_000);
      }
      throw error;
    }
  }

  return {
    kind: "postgres",
    query: base.query,
    exec: base.exec,
    async transaction(fn) {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (error) {
        throw asDatabaseError(error);
      }
      // While checked out, a client has no pool listener: a connection lost between two statements of this
      // transaction would be an unhandled 'error' event, which kills the process. Note it instead; the statement
      // in progress (or the next one) fails, and the broken client is destroyed on release.
      let lost: Error | undefined;
      const onLost = (error: Error) => {
        lost = error;
      };
      client.on("error", onLost);
      const tx = wrap(client);
      try {
        await tx.query("begin");
        const result = await fn(tx);
        await tx.query("commit");
        return result;
      } catch (error) {
        if (!lost && !connectionFailureReason(error)) await client.query("rollback").catch(() => {});
        else lost ??= error as Error;
        throw asDatabaseError(error);
      } finally {
        client.off("error", onLost);
        // Passing an error makes the pool destroy the client rather than hand a dead connection to the next caller.
        client.release(lost);
      }
    },
    async listen(channel, onNotify) {
      let handlers = listeners.get(channel);
      const isNewChannel = !handlers;
      if (!handlers) {
        handlers = new Set();
        listeners.set(channel, handlers);
      }
      handlers.add(onNotify);
      await ensureListener();
      if (isNewChannel && listenClient) await listenClient.query(`listen ${pg.escapeIdentifier(channel)}`);
      return async () => {
        handlers.delete(onNotify);
        if (handlers.size === 0) {
          listeners.delete(channel);
          await listenClient?.query(`unlisten ${pg.escapeIdentifier(channel)}`).catch(() => {});
        }
      };
    },
    async ping() {
      await base.query("select 1");
    },
    async close() {
      closed = true;
      if (reconnectTimer) clearTimeout(reconnectTimer);
      const client = listenClient;
      listenClient = undefined;
      await client?.end().catch(() => {});
      await pool.end();
    },
  };
}
