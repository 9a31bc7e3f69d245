import pg from "pg";
import { asDatabaseError, connectionFailureReason } from "./errors.ts";
import type { Db, Queryable, QueryResult } from "./types.ts";

// int8 (counts, bigserial cursors) as a JS number: every value we store fits in 2^53.
pg.types.setTypeParser(20, (value) => Number(value));

interface PgQueryable {
  query(config: pg.QueryConfig): Promise<pg.QueryResult>;
  query(text: string, params?: unknown[]): Promise<pg.QueryResult>;
}

/**
 * Names for parameterised statements, so PostgreSQL parses and plans each one once per connection and then only
 * binds and executes it (the profile of the hot paths showed parse + plan at about half of a simple lookup's cost).
 * Our statements are fixed strings, so the set is small; a cap keeps dynamically built SQL, if any ever appears,
 * from piling up prepared statements on the server. Names are counters, never reused for another text.
 */
export class StatementNames {
  private readonly names = new Map<string, string>();
  private generation = 0;
  constructor(private readonly max = 2000) {}

  nameFor(text: string): string | undefined {
    let name = this.names.get(text);
    if (name === undefined) {
      if (this.names.size >= this.max) return undefined;
      name = `cc${this.generation}_${this.names.size}`;
      this.names.set(text, name);
    }
    return name;
  }

  /**
   * A migration run by another process changed a table under a prepared `select *`: PostgreSQL refuses the stale
   * statement ("cached plan must not change result type"). New names make every connection prepare afresh.
   */
  renew(): void {
    this.generation++;
    this.names.clear();
  }
}

function isStalePlan(error: unknown): boolean {
  return (
    (error as { code?: string }).code === "0A000" &&
    /cached plan must not change result type/.test((error as Error).message)
  );
}

function wrap(target: PgQueryable, statements: StatementNames, inTransaction: boolean): Queryable {
  const run = (text: string, params: readonly unknown[]) => {
    const name = params.length > 0 ? statements.nameFor(text) : undefined;
    return name
      ? target.query({ name, text, values: params as unknown[] })
      : target.query(text, params as unknown[]);
  };
  return {
    async query<Row>(text: string, params: readonly unknown[] = []): Promise<QueryResult<Row>> {
      try {
        let result: pg.QueryResult;
        try {
          result = await run(text, params);
        } catch (error) {
          if (!isStalePlan(error)) throw error;
          statements.renew();
          // Outside a transaction the statement can simply run again; inside one, the transaction is already
          // aborted, so the caller's retry (a new transaction) gets the new names.
          if (inTransaction) throw error;
          result = await run(text, params);
        }
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

/**
 * One connection the caller drives itself (a `pg.Client` or a pool's client, e.g. holding a transaction open) as a
 * Queryable, with unnamed statements and the same error mapping as the pool.
 */
export function clientQueryable(client: PgQueryable): Queryable {
  return wrap(client, new StatementNames(0), true);
}

export interface PostgresOptions {
  poolMax?: number;
  /** false: never name statements (a transaction-mode pooler cannot keep them per connection). Default true. */
  preparedStatements?: boolean;
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
  const statements = new StatementNames(options.preparedStatements === false ? 0 : undefined);
  const base = wrap(pool, statements, false);

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
      const tx = wrap(client, statements, true);
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
