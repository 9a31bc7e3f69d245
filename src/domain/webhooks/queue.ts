import type { Db, Queryable } from "../../adapters/db/types.ts";
import type { DisabledReason } from "./subscriptions.ts";
import { failPendingDeliveries } from "./subscriptions.ts";

/**
 * The delivery queue: the `webhook_deliveries` rows whose status is `pending`, due at `next_attempt_at`. Workers
 * claim with `FOR UPDATE SKIP LOCKED`, so any number of them share the queue without blocking each other, and
 * move the claimed rows' `next_attempt_at` to the end of a lease: a worker that dies (SIGKILL, lost host) simply
 * stops renewing nothing, and its rows become due again when the lease runs out. Outcomes are recorded only while
 * the worker's claim (`lease_token`) still holds the row. The one transaction a worker keeps open across round trips,
 * the outcome write, ends on the server's side if the worker stops talking in it (see `recordAttemptOutcomes`), so a
 * lost host cannot keep rows locked past their lease either. Delivery is therefore at least once; the `webhook-id`
 * header (the event id) lets receivers drop the rare duplicate.
 */

/** A claimed delivery, with what it takes to sign and send it. */
export interface ClaimedDelivery {
  id: string;
  tenant_id: string;
  subscription_id: string;
  event_id: string;
  event_type: string;
  body: string;
  /** Attempts including this one. */
  attempts: number;
  max_attempts: number | null;
  created_at: Date;
  lease_token: string;
  url: string;
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: Date | null;
  /** The subscription's failure streak as of the claim (null: healthy). */
  failing_since: Date | null;
}

export interface ClaimOptions {
  now: Date;
  /** At most this many deliveries. */
  limit: number;
  leaseMs: number;
  /** At most this many attempts in flight per subscription, counting `inFlight`. */
  perEndpoint: number;
  /** The caller's attempts in flight, per subscription id. */
  inFlight?: ReadonlyMap<string, number>;
  /** Subscriptions not to claim for at all. */
  exclude?: readonly string[];
  /** How many due rows to look at to fill the claim (bounds the work of one claim under a large backlog). */
  scanLimit?: number;
  leaseToken: string;
}

/**
 * Claims due deliveries: `cellvi_claim_webhook_deliveries` (migration 0011, replaced by 0013 and 0014). Its scan
 * reads the first `scanLimit` due rows in due order and leaves out subscriptions this worker already saturates; when
 * one subscription's backlog fills that scan, it finds the other subscriptions' oldest due rows through a capped walk
 * over the per-subscription due index (so one slow endpoint with a large backlog cannot hide the others' deliveries,
 * nor make any claim read past it); it ranks them per subscription to respect the per-endpoint bound, locks
 * the allowed ones with SKIP LOCKED (re-checking the due condition on the row's latest version, so a row another
 * worker claimed after our snapshot is skipped), and updates them; rows of a subscription disabled in the meantime
 * are failed there rather than sent. When another worker's claim holds a subscription's first allowed rows, the
 * claim takes that subscription's next due rows of its scan instead, each subscription up to its bound (0014), so
 * workers share one endpoint's backlog instead of coming back short.
 *
 * A function rather than a statement, for its plan. A named prepared statement keeps the generic plan of its first
 * executions, and the statement's plan, made while the table was empty (a new database; a server without
 * autovacuum, where nothing analyses the table), locked through a nested-loop semi join walking the whole due
 * index: a claim that found fewer allowed rows than its limit read every due row (12-28 ms instead of about 1 ms
 * per claim with 30,000 due rows; PGlite chose that walk too). Earlier, auto_explain caught a plan that recomputed
 * the scan for every due row (a 77 ms claim). The function's steps are shaped so that the rows already chosen
 * always drive the next step (LATERAL lookups by primary key, the update by key), and its own settings
 * (force_generic_plan, no sequential or bitmap scans, no hash or merge joins) leave no plan that reads more: a
 * claim reads its scan and then its rows by key, whatever the statistics were when PL/pgSQL made its plan (once per
 * connection, never planned again per claim). test/webhooks/claim-plan.test.ts counts what a claim reads with plans
 * made on an empty table, on both engines.
 */
export async function claimDueDeliveries(db: Queryable, options: ClaimOptions): Promise<ClaimedDelivery[]> {
  if (options.limit <= 0) return [];
  const busyIds: string[] = [];
  const busyCounts: number[] = [];
  const saturated: string[] = [...(options.exclude ?? [])];
  for (const [subscriptionId, count] of options.inFlight ?? []) {
    if (count <= 0) continue;
    busyIds.push(subscriptionId);
    busyCounts.push(count);
    if (count >= options.perEndpoint) saturated.push(subscriptionId);
  }
  // The claim's commit does not wait for its WAL flush (`synchronous_commit = off` for its transaction only: the
  // statement is its own transaction in the dispatcher, and the setting is read at commit, whatever the order the
  // two function scans run in). The claim is on every delivery's path, and that wait is the disk's: one-row claims
  // took 0.64-5.96 ms at the median with it and 0.50-0.85 ms without it on a busy machine (one connection, 500
  // claims a round, session 9), for the same CPU. Nothing is weaker for it: if PostgreSQL itself crashes before the
  // flush, the claim is undone and its deliveries are due again at once, to be sent again, where a claim that had
  // been flushed would hold them until its lease ran out and then be sent again all the same (at least once either
  // way: the receivers drop the duplicate by its webhook-id). A worker's own crash is unaffected (the claim is
  // visible to the others as soon as it commits). The outcome write, which ends a delivery, still waits for its
  // flush, and flushes the claim's WAL before its own.
  const { rows } = await db.query<ClaimedDelivery & { claimed_status: string }>(
    `select c.* from cellvi_claim_webhook_deliveries($1::timestamptz, $2::text[], $3::int, $4::text[], $5::int[],
                                                      $6::int, $7::int, $8::uuid, $9::float8) c,
                     set_config('synchronous_commit', 'off', true)`,
    [
      options.now,
      saturated,
      options.scanLimit ?? Math.max(options.limit * 4, 200),
      busyIds,
      busyCounts,
      options.perEndpoint,
      options.limit,
      options.leaseToken,
      options.leaseMs,
    ],
  );
  return rows
    .filter((row) => row.claimed_status === "pending")
    .map(({ claimed_status: _status, ...delivery }) => delivery);
}

/**
 * Gives back claimed deliveries that were never attempted (a worker stopping with deliveries waiting): due now, their
 * attempt count as before the claim. Only rows still under the given claims are touched.
 */
export async function releaseClaims(
  db: Queryable,
  deliveries: readonly Pick<ClaimedDelivery, "id" | "lease_token">[],
  now: Date,
): Promise<number> {
  if (deliveries.length === 0) return 0;
  const result = await db.query(
    `update webhook_deliveries d set lease_token = null, next_attempt_at = $3, attempts = d.attempts - 1
       from unnest($1::text[], $2::uuid[]) as r(id, lease_token)
      where d.id = r.id and d.lease_token = r.lease_token and d.status = 'pending'`,
    [deliveries.map((d) => d.id), deliveries.map((d) => d.lease_token), now],
  );
  return result.rowCount;
}

/** One finished attempt, as the dispatcher records it. */
export interface AttemptRecord {
  deliveryId: string;
  leaseToken: string;
  subscriptionId: string;
  attempt: number;
  attemptedAt: Date;
  durationMs: number;
  outcome: "succeeded" | "failed";
  statusCode: number | null;
  error: string | null;
  responseBody: string | null;
  deliveryStatus: "succeeded" | "pending" | "failed";
  nextAttemptAt: Date | null;
  disableSubscription: "endpoint_gone" | null;
  /** The subscription had a failure streak when this delivery was claimed (a success must then clear it). */
  subscriptionWasFailing: boolean;
  /**
   * The attempt failed on our side before anything was sent (its signing secret could not be opened: a key missing
   * from this deployment's configuration). It is logged and retried like any failure, but it says nothing about the
   * endpoint, so it neither starts nor continues the subscription's failure streak, which would end in disabling a
   * customer's subscription for an operator's mistake.
   */
  notSent?: boolean;
  /**
   * Not sent, and the delivery waits for the key (the dispatcher's attempts; see attemptDelivery): the outcome write
   * gives the attempt back (it does not count toward the schedule's maximum) and sets the next attempt after the
   * subscription's wait (`secretWaitBounds`), at least `nextAttemptAt`.
   */
  waitsForSecret?: boolean;
}

export interface RecordOutcome {
  /** Subscriptions disabled by this batch (410, or failing for too long). */
  disabled: { subscriptionId: string; reason: DisabledReason }[];
  /** Outcomes not applied because the claim had been lost (lease expired and taken by another worker). */
  stale: number;
}

const iso = (date: Date | null) => (date ? date.toISOString() : null);

/** Per subscription: how this batch changes its failure streak (ordered by attempt time). */
function streaks(records: readonly AttemptRecord[]) {
  const bySubscription = new Map<string, AttemptRecord[]>();
  for (const record of records) {
    if (record.notSent) continue;
    const list = bySubscription.get(record.subscriptionId) ?? [];
    list.push(record);
    bySubscription.set(record.subscriptionId, list);
  }
  const ids: string[] = [];
  const modes: string[] = [];
  const since: (string | null)[] = [];
  for (const [subscriptionId, list] of bySubscription) {
    list.sort((a, b) => a.attemptedAt.getTime() - b.attemptedAt.getTime());
    let lastSuccess = -1;
    list.forEach((record, index) => {
      if (record.outcome === "succeeded") lastSuccess = index;
    });
    const firstFailureAfter = list.slice(lastSuccess + 1)[0];
    ids.push(subscriptionId);
    if (lastSuccess === -1) {
      // Only failures: the streak starts now unless it already runs.
      modes.push("continue");
      since.push(iso(list[0]!.attemptedAt));
    } else if (firstFailureAfter) {
      modes.push("restart");
      since.push(iso(firstFailureAfter.attemptedAt));
    } else {
      modes.push("clear");
      since.push(null);
    }
  }
  return { ids, modes, since };
}

/**
 * The outcome write's plan, whatever the table's size or statistics: a generic plan (made once per connection,
 * never again per write) in which the only joins left are nested loops and the only way to reach a table is an
 * index, so every delivery, subscription and attempt row is reached by its key. Planned afresh for each write
 * (`force_custom_plan`, sessions 3 and 4 until this) the write was an index lookup per delivery too, but planning
 * the statement cost about as much PostgreSQL CPU as running it: 1,108-1,375 us per write of 10 outcomes against
 * 617-883 us with this plan (PostgreSQL backend CPU, one connection, alternating). `set local`: these settings end
 * with the transaction; the streak and disabling statements of the same transaction run under them too, and reach
 * their rows through indexes as well. test/webhooks/outcome-write-plan.test.ts checks the plan on a new database.
 */
export const outcomeWritePlanSettings =
  "set local plan_cache_mode = force_generic_plan; set local enable_seqscan = off; " +
  "set local enable_hashjoin = off; set local enable_mergejoin = off";

/**
 * The attempts' outcomes, one array per column: the deliveries still under their claim get their new state, and
 * every attempt of a delivery that still exists is logged (with the delivery's next attempt, null when the claim
 * was lost). Returns the deliveries updated.
 *
 * An attempt that waits for its secret's key ($12) gives its attempt back (the claim counted it) and is due again
 * after as long as its subscription has been waiting (`secret_unopened_since`, migration 0012), at least the
 * attempt's own `next_attempt_at` (the shortest wait) and at most $13 milliseconds. The same statement keeps the
 * subscription's wait: set by an attempt not sent, cleared by one sent, which also moves a failure streak that was
 * running when the wait began (`failing_since`) later by the wait's length: nothing was sent meanwhile, so the wait
 * is no part of the endpoint's failures, and a subscription that was failing before a long wait is not disabled by
 * the first failure after it. Only rows that need it reach the
 * subscriptions (the filter runs on the updated rows first), so a write of attempts that were all sent, with no
 * subscription waiting, costs no more than before. When one batch holds both kinds for a subscription, one of its
 * rows decides (PostgreSQL updates a row once per statement); the next attempt corrects it either way.
 */
export const outcomeWriteSql = `with input as (
     select * from unnest($1::text[], $2::uuid[], $3::int[], $4::timestamptz[], $5::int[], $6::text[],
                          $7::int[], $8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::boolean[])
       as u(delivery_id, lease_token, attempt, attempted_at, duration_ms, outcome, status_code, error,
            response_body, delivery_status, next_attempt_at, waits_for_secret)
   ),
   updated as (
     update webhook_deliveries d set
       status = case when i.delivery_status = 'pending' and not s.enabled then 'failed' else i.delivery_status end,
       attempts = case when i.waits_for_secret then d.attempts - 1 else d.attempts end,
       next_attempt_at = case
         when i.delivery_status <> 'pending' or not s.enabled then null
         when i.waits_for_secret then
           greatest(i.next_attempt_at,
                    i.attempted_at + least($13::float8 * interval '1 millisecond',
                                           i.attempted_at - coalesce(s.secret_unopened_since, i.attempted_at)))
         else i.next_attempt_at end,
       lease_token = null,
       last_attempt_at = i.attempted_at,
       last_status_code = i.status_code,
       last_error = case when i.delivery_status = 'pending' and not s.enabled
                         then 'The subscription was disabled: no further retries.' else i.error end,
       completed_at = case when i.delivery_status = 'pending' and s.enabled then null else i.attempted_at end
     from input i, webhook_subscriptions s
     where d.id = i.delivery_id and d.lease_token = i.lease_token and s.id = d.subscription_id
     returning d.id, d.next_attempt_at, d.subscription_id, i.waits_for_secret, i.attempted_at,
               s.secret_unopened_since as unopened_since
   ),
   logged as (
     insert into webhook_attempts (delivery_id, attempt, attempted_at, duration_ms, outcome, status_code, error,
                                   response_body, next_attempt_at)
     select i.delivery_id, i.attempt, i.attempted_at, i.duration_ms, i.outcome, i.status_code, i.error,
            i.response_body, u.next_attempt_at
       from input i left join updated u on u.id = i.delivery_id
      where exists (select 1 from webhook_deliveries d where d.id = i.delivery_id)
   ),
   waits as (
     update webhook_subscriptions s
        set secret_unopened_since = case when u.waits_for_secret then u.attempted_at end,
            failing_since = case when u.waits_for_secret then s.failing_since
                                 else s.failing_since + (u.attempted_at - u.unopened_since) end
       from updated u
      where s.id = u.subscription_id
        and (case when u.waits_for_secret then u.unopened_since is null else u.unopened_since is not null end)
   )
   select id from updated`;

/**
 * Records a batch of finished attempts: the attempt log, the deliveries' new state (only where the claim still
 * holds), the subscriptions' failure streaks, and the disabling that 410s and long failure streaks call for.
 * Batching keeps the database cost per delivery low at high rates; the dispatcher gathers outcomes for a few
 * milliseconds per write. If a streak began between the claim and this write, the next success (claimed after it)
 * clears it.
 *
 * Always one transaction, with `outcomeWritePlanSettings` for it: as a named prepared statement the write keeps,
 * on each connection, the generic plan made from its first executions. Made as usual while the deliveries table was
 * small, or before it was ever analysed, that plan reads the whole table (a hash join over a sequential scan) on
 * every write, so each write costs more as the table grows; at a sustained 1,000 events/s that took most of the
 * database's CPU within a minute and delivery fell minutes behind (session 3).
 *
 * The transaction holds its deliveries' row locks from the write until the commit, a round trip later. A worker
 * whose host is lost (or whose process is frozen) in between leaves it open with its connection: the server sees no
 * closed socket (a frozen process's kernel still answers; a lost host's TCP keepalive is noticed after about two
 * hours by default), and every claim skips those rows (SKIP LOCKED) long after their lease has run out, while the
 * live workers, finding them due, claim again every 5 ms, their shortest sleep (session 9: a worker stopped with
 * SIGSTOP after its write kept 32 to 88 deliveries from the live worker for as long as it stayed stopped;
 * test/faults/concurrent-workers-crash.test.ts). So the transaction sets `idle_in_transaction_session_timeout` to
 * the lease: the server ends a session left idle in it that long, its locks go with it, and the rows are claimed
 * again at most a lease after their own lease ran out. A live worker's gaps between these statements are
 * milliseconds; if one ever lasted a lease, the write fails and is retried on another connection.
 */
export async function recordAttemptOutcomes(
  db: Db,
  records: readonly AttemptRecord[],
  options: {
    now: Date;
    disableAfterMs: number;
    /** The longest wait of a delivery waiting for its secret's key (`secretWaitBounds(policy).maxMs`). */
    secretWaitMaxMs: number;
    /** The claims' lease: the longest the server lets this transaction sit idle before ending its session. */
    leaseMs: number;
  },
): Promise<RecordOutcome> {
  if (records.length === 0) return { disabled: [], stale: 0 };
  // An attempt not sent says nothing about the endpoint: no streak to change for it (see `streaks`).
  const subscriptionsChange = records.some(
    (r) =>
      (r.outcome === "failed" && !r.notSent) || r.subscriptionWasFailing || r.disableSubscription !== null,
  );
  const write = async (tx: Queryable): Promise<RecordOutcome> => {
    await tx.exec(
      `${outcomeWritePlanSettings}; set local idle_in_transaction_session_timeout = ${Math.max(1, Math.ceil(options.leaseMs))}`,
    );
    const applied = await tx.query<{ id: string }>(outcomeWriteSql, [
      records.map((r) => r.deliveryId),
      records.map((r) => r.leaseToken),
      records.map((r) => r.attempt),
      records.map((r) => iso(r.attemptedAt)),
      records.map((r) => r.durationMs),
      records.map((r) => r.outcome),
      records.map((r) => r.statusCode),
      records.map((r) => r.error),
      records.map((r) => r.responseBody),
      records.map((r) => r.deliveryStatus),
      records.map((r) => iso(r.nextAttemptAt)),
      records.map((r) => r.waitsForSecret === true),
      options.secretWaitMaxMs,
    ]);

    if (!subscriptionsChange) return { disabled: [], stale: records.length - applied.rows.length };

    const streak = streaks(records);
    await tx.query(
      `update webhook_subscriptions s set failing_since = case h.mode
           when 'clear' then null
           when 'restart' then h.since
           else coalesce(s.failing_since, h.since) end
         from unnest($1::text[], $2::text[], $3::timestamptz[]) as h(id, mode, since)
        where s.id = h.id
          and (h.mode = 'restart' or (h.mode = 'clear' and s.failing_since is not null)
               or (h.mode = 'continue' and s.failing_since is null))`,
      [streak.ids, streak.modes, streak.since],
    );

    const disabled: RecordOutcome["disabled"] = [];
    const gone = [...new Set(records.filter((r) => r.disableSubscription).map((r) => r.subscriptionId))];
    if (gone.length > 0) {
      const { rows } = await tx.query<{ id: string }>(
        `update webhook_subscriptions set enabled = false, disabled_reason = 'endpoint_gone',
                disabled_at = $2, updated_at = $2
          where id = any($1::text[]) and enabled returning id`,
        [gone, options.now],
      );
      for (const row of rows) disabled.push({ subscriptionId: row.id, reason: "endpoint_gone" });
    }
    const failing = streak.ids.filter((_, index) => streak.modes[index] !== "clear");
    if (failing.length > 0) {
      const { rows } = await tx.query<{ id: string }>(
        `update webhook_subscriptions set enabled = false, disabled_reason = 'failing',
                disabled_at = $2::timestamptz, updated_at = $2::timestamptz
          where id = any($1::text[]) and enabled
            and failing_since <= $2::timestamptz - $3 * interval '1 millisecond'
          returning id`,
        [failing, options.now, options.disableAfterMs],
      );
      for (const row of rows) disabled.push({ subscriptionId: row.id, reason: "failing" });
    }
    for (const reason of ["endpoint_gone", "failing"] as const) {
      const ids = disabled.filter((d) => d.reason === reason).map((d) => d.subscriptionId);
      await failPendingDeliveries(
        tx,
        ids,
        reason === "endpoint_gone"
          ? "The endpoint answered 410 Gone: the subscription was disabled."
          : "Every attempt failed for too long: the subscription was disabled.",
        options.now,
      );
    }
    return { disabled, stale: records.length - applied.rows.length };
  };
  return db.transaction(write);
}

/** When the earliest pending delivery (or lease) falls due, to sleep exactly until then. */
export async function nextDueAt(db: Queryable): Promise<Date | null> {
  const { rows } = await db.query<{ at: Date | null }>(
    "select min(next_attempt_at) as at from webhook_deliveries where status = 'pending'",
  );
  return rows[0]?.at ?? null;
}

export interface QueueStats {
  /** Deliveries waiting: due now, scheduled for a retry, or in flight. */
  pending: number;
  /** Due now and not held by a worker (or held by one whose lease ran out). */
  due: number;
  inFlight: number;
  /** Age of the oldest due delivery, in milliseconds (0 when none is due). */
  oldestDueAgeMs: number;
}

/** Queue depth and age for metrics and the CLI (issue 9 exports them as gauges). */
export async function webhookQueueStats(db: Queryable, now: Date): Promise<QueueStats> {
  const { rows } = await db.query<{ pending: number; due: number; in_flight: number; oldest: Date | null }>(
    `select count(*)::int as pending,
            count(*) filter (where next_attempt_at <= $1)::int as due,
            count(*) filter (where lease_token is not null and next_attempt_at > $1)::int as in_flight,
            min(next_attempt_at) filter (where next_attempt_at <= $1) as oldest
       from webhook_deliveries where status = 'pending'`,
    [now],
  );
  const row = rows[0];
  return {
    pending: row?.pending ?? 0,
    due: row?.due ?? 0,
    inFlight: row?.in_flight ?? 0,
    oldestDueAgeMs: row?.oldest ? Math.max(0, now.getTime() - row.oldest.getTime()) : 0,
  };
}
