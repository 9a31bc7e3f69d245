import { once } from "node:events";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { Webhook } from "standardwebhooks";
import type { Queryable } from "../../src/adapters/db/types.ts";

/** One request a receiver got. */
export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  /** Order of arrival, from 0. */
  index: number;
  receivedAt: number;
}

export interface ReceiverAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Hold the answer until this resolves (a slow endpoint). */
  holdUntil?: Promise<void>;
}

export interface Receiver {
  url: string;
  port: number;
  received: Received[];
  /** The requests in flight right now, and the most ever seen at once. */
  inFlight: number;
  maxInFlight: number;
  close(): Promise<void>;
}

/** A webhook endpoint on 127.0.0.1 that records what it gets and answers as `answer` says (default 200). */
export async function startReceiver(
  answer: (request: Received) => ReceiverAnswer | Promise<ReceiverAnswer> = () => ({ status: 200 }),
  path = "/hooks",
): Promise<Receiver> {
  const state = { inFlight: 0, maxInFlight: 0 };
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    state.inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", async () => {
      const request: Received = {
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
        index: received.length,
        receivedAt: Date.now(),
      };
      received.push(request);
      const reply = await answer(request);
      await reply.holdUntil;
      state.inFlight--;
      res.writeHead(reply.status, reply.headers ?? {});
      res.end(reply.body ?? "");
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    port,
    received,
    get inFlight() {
      return state.inFlight;
    },
    get maxInFlight() {
      return state.maxInFlight;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Verifies a received request with the `standardwebhooks` library (not our code) and returns the parsed body. */
export function verifyWithLibrary(secret: string, request: Pick<Received, "headers" | "body">): unknown {
  const headers: Record<string, string> = {};
  for (const name of ["webhook-id", "webhook-timestamp", "webhook-signature"]) {
    headers[name] = String(request.headers[name] ?? "");
  }
  return new Webhook(secret).verify(request.body, headers);
}

/** Polls `condition` every 20 ms until it holds or `timeoutMs` passes (bounded: tests never wait for ever). */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Creates `count` orders with plain SQL, the way another CELLVI component would: each with its CREATED history
 * row, so each produces one ORDER_CREATED event. Returns the order ids.
 */
export async function insertOrdersWithSql(
  db: Queryable,
  tenantId: string,
  mode: "live" | "test",
  count: number,
): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `with created as (
       insert into orders (tenant_id, mode, external_id, tracking_number, tracking_token, recipient, destination,
                           packages)
       select $1, $2, 'SQL-' || md5(random()::text || n), 'CVSQL' || upper(substr(md5(random()::text || n), 1, 12)),
              md5(random()::text), '{"name": "Ana", "phone": "+573001112233"}'::jsonb,
              '{"address_line1": "Calle 1", "city": "Medellín", "country": "CO", "latitude": 6.2442, "longitude": -75.5812}'::jsonb,
              '[{"weight_kg": 1}]'::jsonb
         from generate_series(1, $3::int) as n
       returning id, tenant_id
     ),
     history as (
       insert into order_status_history (order_id, tenant_id, status, description)
       select id, tenant_id, 'CREATED', 'Order received' from created
     )
     select id from created`,
    [tenantId, mode, count],
  );
  return rows.map((row) => row.id);
}

/** Moves an order with a raw history insert (the outbox trigger turns it into an event). */
export async function moveOrderWithSql(
  db: Queryable,
  order: { id: string; tenantId: string },
  status: string,
  details: Record<string, unknown> = {},
): Promise<void> {
  await db.query(
    `insert into order_status_history (order_id, tenant_id, status, description, city, actor, details)
     values ($1, $2, $3, $4, 'Bogotá', 'sql:test', $5)`,
    [order.id, order.tenantId, status, `moved to ${status} by SQL`, JSON.stringify(details)],
  );
}

/** The events of a tenant, as the outbox holds them. */
export async function outboxEvents(
  db: Queryable,
  tenantId: string,
): Promise<{ id: string; type: string; payload: Record<string, unknown>; occurred_at: Date }[]> {
  const { rows } = await db.query<{
    id: string;
    type: string;
    payload: Record<string, unknown>;
    occurred_at: Date;
  }>("select id, type, payload, occurred_at from events where tenant_id = $1 order by seq", [tenantId]);
  return rows;
}

/**
 * A clock the test moves by hand. Call `catchUp()` once the database is ready: it puts the clock a minute ahead of
 * the real time, so rows the database stamps with its own now() (new deliveries) are already due by this clock.
 */
export function manualClock(start = new Date(Date.now() + 60_000)) {
  let now = start.getTime();
  return {
    now: () => new Date(now),
    advance(ms: number) {
      now += ms;
    },
    set(date: Date) {
      now = date.getTime();
    },
    catchUp() {
      now = Date.now() + 60_000;
    },
  };
}
