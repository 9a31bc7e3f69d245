import { DatabaseUnavailableError } from "../../adapters/db/errors.ts";
import type { Db } from "../../adapters/db/types.ts";
import { atEndOfTurnWhile } from "../../end-of-turn.ts";
import {
  idempotencyInProgress,
  idempotencyTryLockSql,
  resolveTakenKey,
  type StoredResponse,
} from "../idempotency/run.ts";
import type { CreateOrderInput, Order } from "./schemas.ts";
import {
  createdHistoryParams,
  findOrderIdByExternalId,
  newOrderIds,
  orderWithHistoryCtes,
  type TenantScope,
} from "./store.ts";
import { trackingUrl } from "./tracking-ids.ts";

export type CreateOrderOnceResult =
  | { kind: "created"; body: Order }
  | { kind: "replayed"; response: StoredResponse }
  | { kind: "duplicate"; existingOrderId: string };

interface Idempotency {
  key: string;
  fingerprint: string;
  baseUrl: string;
}

/**
 * `POST /v1/orders/create` with an Idempotency-Key in ONE statement, hence one round trip and one commit: the key's
 * advisory try-lock, the order, its CREATED history row (whose triggers write the ORDER_CREATED event) and the
 * recorded response are written by one data-modifying CTE, in the statement's own transaction, so they exist
 * together or not at all. The general path (`runIdempotent`: BEGIN, claim, operation, record, COMMIT) took five
 * round trips for this. Concurrent requests share that statement (`OrderCreator`).
 *
 * The response is rendered by the statement itself, from the inserted row, and returned from it: the first
 * response and every replay are the same JSON by construction. It must match `toOrder` (the GET of the order); a
 * test compares them.
 *
 * When the statement writes nothing for the request (another request holds the key: 409; the key has a record;
 * the external_id is taken), a second statement reads the key's record, with a snapshot taken after the lock was
 * won, and decides: replay, 422, 409, or a duplicate external_id.
 */
export async function createOrderOnce(
  db: Db,
  scope: TenantScope,
  input: CreateOrderInput,
  idempotency: Idempotency,
): Promise<CreateOrderOnceResult> {
  const { key, fingerprint } = idempotency;
  const creator = orderCreatorFor(db);
  // Twice at most: a second pass only follows a record or an order that vanished in between (a stale record
  // removed by resolveTakenKey, pruning).
  for (let pass = 0; pass < 2; pass++) {
    const attempt = await creator.create({ scope, input, idempotency });
    if (!attempt.held) throw idempotencyInProgress();
    if (attempt.body) return { kind: "created", body: attempt.body };
    const taken = await resolveTakenKey(db, scope, key, fingerprint);
    if (taken.kind === "replay") return { kind: "replayed", response: taken.response };
    if (!attempt.keyRecorded) {
      const existingOrderId = await findOrderIdByExternalId(db, scope, input.external_id);
      if (existingOrderId) return { kind: "duplicate", existingOrderId };
    }
  }
  throw idempotencyInProgress();
}

export interface CreateRequest {
  scope: TenantScope;
  input: CreateOrderInput;
  idempotency: Idempotency;
}

/** What the statement did for one request: `held` false = another transaction runs the key (409). */
export interface CreateAttempt {
  held: boolean;
  /** The created order's response; null when nothing was written for this request. */
  body: Order | null;
  /** The key already had a record (a replay, a reuse, a stale claim): the order was not attempted. */
  keyRecorded: boolean;
}

/**
 * The statement for any number of requests: `$1` is a JSON array of rows (`createRow`), each request's order,
 * history row, key lock and recorded response written as in a statement of its own, in one transaction. A key
 * that already has a record in the statement's snapshot is not attempted (`recorded`); one recorded after the
 * snapshot still fails the statement on the primary key, so its order goes too. Rows are told apart by their
 * tracking number, which is new for each.
 */
const createOrdersSql = `with input as (
    select * from json_to_recordset($1::json) as r(
      i int, tenant_id uuid, mode text, external_id text, tracking_number text, tracking_token text, recipient jsonb,
      destination jsonb, origin jsonb, packages jsonb, cod_amount numeric, currency text, service_level text,
      notes text, metadata jsonb, description text, city text, actor text, key text, fingerprint text,
      tracking_url text)
  ), lock as (
    -- The statement's lock_timeout ($2), set before the first row is written.
    select input.*, set_config('lock_timeout', $2, true) as lock_timeout,
           ${idempotencyTryLockSql("input.tenant_id", "input.mode", "input.key")} as held,
           -- A scalar subquery, probed per row through the primary key: an EXISTS here may be planned as one
           -- hashed scan of the whole table (the generic plan did, on a new database), every statement.
           coalesce((select true from idempotency_keys k
                      where k.tenant_id = input.tenant_id and k.mode = input.mode and k.key = input.key), false)
             as recorded
      from input
  ),
  ${orderWithHistoryCtes(
    `select tenant_id, mode, external_id, tracking_number, tracking_token, recipient, destination, origin, packages,
            cod_amount, currency, service_level, notes, metadata
       from lock where held and not recorded order by i`,
    {
      values: "l.description, l.city, l.actor",
      from: "o join lock l on l.tracking_number = o.tracking_number",
    },
  )},
  response as (
    -- toOrder, in SQL: ISO-8601 UTC to the millisecond, like Date.toISOString.
    select l.i, l.tenant_id, l.mode, l.key, l.fingerprint, json_build_object(
      'id', o.id, 'object', 'order', 'mode', o.mode, 'external_id', o.external_id,
      'tracking_number', o.tracking_number, 'tracking_token', o.tracking_token, 'tracking_url', l.tracking_url,
      'status', o.status, 'closed', o.closed_at is not null, 'exception', o.exception, 'recipient', o.recipient, 'destination', o.destination, 'origin', o.origin,
      'packages', o.packages, 'cod_amount', o.cod_amount, 'currency', o.currency,
      'service_level', o.service_level, 'notes', o.notes, 'metadata', o.metadata,
      'created_at', to_char(o.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
      'updated_at', to_char(o.updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
    ) as body
    from o join lock l on l.tracking_number = o.tracking_number
  ), recorded as (
    -- No ON CONFLICT: a key recorded meanwhile fails the statement, so the order goes too.
    insert into idempotency_keys (tenant_id, mode, key, request_fingerprint, response_status, response_json)
    select tenant_id, mode, key, fingerprint, 201, body from response
  )
  select lock.i, lock.held, lock.recorded, response.body from lock left join response on response.i = lock.i`;

function createRow(request: CreateRequest, i: number): Record<string, unknown> {
  const { scope, input, idempotency } = request;
  const ids = newOrderIds();
  const [description, city, actor] = createdHistoryParams(input);
  return {
    i,
    tenant_id: scope.tenantId,
    mode: scope.mode,
    external_id: input.external_id,
    tracking_number: ids.trackingNumber,
    tracking_token: ids.trackingToken,
    recipient: input.recipient,
    destination: input.destination,
    origin: input.origin ?? null,
    packages: input.packages,
    cod_amount: input.cod_amount ?? null,
    currency: input.currency ?? null,
    service_level: input.service_level ?? null,
    notes: input.notes ?? null,
    metadata: input.metadata ?? {},
    description,
    city,
    actor,
    key: idempotency.key,
    fingerprint: idempotency.fingerprint,
    tracking_url: trackingUrl(idempotency.baseUrl, ids.trackingNumber, ids.trackingToken),
  };
}

/**
 * Runs the statement for `requests` (whose keys are distinct), one attempt per request, in their order.
 * `lockTimeout` (PostgreSQL's syntax; "0", none, by default) bounds each lock wait of the statement.
 */
export async function createOrders(
  db: Db,
  requests: readonly CreateRequest[],
  lockTimeout = "0",
): Promise<CreateAttempt[]> {
  try {
    const { rows } = await db.query<{ i: number; held: boolean; recorded: boolean; body: Order | null }>(
      createOrdersSql,
      [JSON.stringify(requests.map(createRow)), lockTimeout],
    );
    const attempts: CreateAttempt[] = [];
    for (const row of rows) attempts[row.i] = { held: row.held, body: row.body, keyRecorded: row.recorded };
    return attempts;
  } catch (error) {
    if (requests.length === 1 && isKeyRecorded(error)) return [{ held: true, body: null, keyRecorded: true }];
    throw error;
  }
}

function isKeyRecorded(error: unknown): boolean {
  const { code, constraint } = error as { code?: string; constraint?: string };
  return code === "23505" && constraint === "idempotency_keys_pkey";
}

/**
 * Waits between a rerun that found its key's lock taken and the next, in milliseconds (63 in all). PostgreSQL
 * sends a statement's error before it aborts the transaction, so the failed shared statement may still hold the
 * request's own key lock for a moment when the rerun arrives on another connection: without a second look, about
 * one rerun in five answered 409 idempotency_in_progress to a request nobody else was running.
 */
const heldByFailedStatementWaitsMs = [1, 2, 4, 8, 16, 32];

/**
 * Reruns one request of a failed shared statement in a statement of its own. A key lock found taken is looked at
 * again a few times (`heldByFailedStatementWaitsMs`) before the 409: the holder may be the failed statement itself,
 * still aborting. A request that really runs elsewhere with the same key gets its 409 about 60 ms later.
 */
async function createAlone(db: Db, request: CreateRequest): Promise<CreateAttempt> {
  let attempt = (await createOrders(db, [request]))[0]!;
  for (const ms of heldByFailedStatementWaitsMs) {
    if (attempt.held) break;
    await new Promise((resolve) => setTimeout(resolve, ms));
    attempt = (await createOrders(db, [request]))[0]!;
  }
  return attempt;
}

interface Waiter {
  request: CreateRequest;
  /** tenant, mode and key: two requests with one key never share a statement. */
  keyId: string;
  resolve: (attempt: CreateAttempt) => void;
  reject: (error: unknown) => void;
}

/**
 * Creates orders for concurrent requests in shared statements (the DataLoader pattern, as `TrackingReader`). The
 * requests of an event-loop turn are sent together at its end while fewer than `maxInFlight` statements are
 * running, so an idle service waits only for the rest of the turn; beyond that, requests queue, and the next
 * statement to start takes the queue (up to `maxBatch` requests) in one round trip and one commit. Why: in a
 * profile at saturation, the gateway spent 30 % of its busy time in the one socket write per order to PostgreSQL
 * (waking a backend), and PostgreSQL pays a statement start, a commit and a WAL flush per transaction.
 *
 * Each request keeps the outcome it would have alone: its key's lock is taken in the shared transaction (a second
 * request with the same key waits for a later statement, where it finds the lock taken or the key recorded), an
 * external_id taken by another row of the statement is a duplicate as before, and when the statement fails (a
 * key recorded after its snapshot, a failing trigger, a lost connection) nothing of it was written and each of
 * its requests runs again in a statement of its own, where the failure is that request's alone.
 *
 * A statement of the creator gives up a lock wait after `lockTimeout` (an external_id another transaction, say a
 * long import, has inserted and not committed yet): otherwise one such request would hold up every request queued
 * behind the few statements in flight, of every tenant. Its requests then run alone, outside the creator's
 * slots, waiting as long as they must, as they did before statements were shared.
 */
export class OrderCreator {
  private queue: Waiter[] = [];
  private inFlight = 0;
  /** Statements run and requests answered; their ratio is the mean batch size. */
  readonly stats = { statements: 0, requests: 0 };

  constructor(
    private readonly db: Db,
    private readonly options: { maxInFlight: number; maxBatch: number; lockTimeout: string } = {
      maxInFlight: 2,
      maxBatch: 64,
      lockTimeout: "100ms",
    },
  ) {}

  create(request: CreateRequest): Promise<CreateAttempt> {
    const { scope, idempotency } = request;
    return new Promise((resolve, reject) => {
      this.queue.push({
        request,
        keyId: `${scope.tenantId}:${scope.mode}:${idempotency.key}`,
        resolve,
        reject,
      });
      this.startAtEndOfTurn();
    });
  }

  /**
   * Starts statements for the queue at the end of this event-loop turn, while slots are free: the requests read in
   * one turn go together, however they arrive (one by one since session 13, when a key's request is admitted at
   * once: starting each at once then made batches of one and cost about a fifth more CPU per order, "Session 13"
   * in BENCHMARKS.md).
   */
  private readonly startAtEndOfTurn = atEndOfTurnWhile(
    () => this.queue.length > 0 && this.inFlight < this.options.maxInFlight,
    () => this.start(),
  );

  private start(): void {
    const batch: Waiter[] = [];
    const rest: Waiter[] = [];
    const keys = new Set<string>();
    for (const waiter of this.queue) {
      if (batch.length < this.options.maxBatch && !keys.has(waiter.keyId)) {
        keys.add(waiter.keyId);
        batch.push(waiter);
      } else {
        rest.push(waiter);
      }
    }
    this.queue = rest;
    this.inFlight++;
    this.stats.statements++;
    this.stats.requests += batch.length;
    createOrders(
      this.db,
      batch.map((waiter) => waiter.request),
      this.options.lockTimeout,
    )
      .then(
        (attempts) => {
          for (const [i, waiter] of batch.entries()) waiter.resolve(attempts[i]!);
        },
        (error: unknown) => {
          // The database is out of reach: the same for every request, at once (a retry alone would double the
          // wait for a connection before the 503).
          if (error instanceof DatabaseUnavailableError) {
            for (const waiter of batch) waiter.reject(error);
            return;
          }
          // Nothing of the statement was written: each request alone, so a failure is only its own.
          for (const waiter of batch)
            createAlone(this.db, waiter.request).then(waiter.resolve, waiter.reject);
        },
      )
      .finally(() => {
        this.inFlight--;
        if (this.queue.length > 0) this.start();
      });
  }
}

// One creator per database handle (the services' db): its statements are that handle's.
const creators = new WeakMap<Db, OrderCreator>();

export function orderCreatorFor(db: Db): OrderCreator {
  let creator = creators.get(db);
  if (!creator) {
    creator = new OrderCreator(db);
    creators.set(db, creator);
  }
  return creator;
}
