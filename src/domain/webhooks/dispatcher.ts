import { randomUUID } from "node:crypto";
import type { WebhookSender } from "../../adapters/sender/types.ts";
import type { Metrics } from "../../observability/metrics.ts";
import type { Services } from "../../services.ts";
import { type AttemptReport, attemptDelivery } from "./attempt.ts";
import {
  type AttemptRecord,
  type ClaimedDelivery,
  claimDueDeliveries,
  nextDueAt,
  recordAttemptOutcomes,
  releaseClaims,
} from "./queue.ts";
import { secretWaitBounds } from "./retry-policy.ts";
import { type WebhookSecretOpener, webhookSecretOpener } from "./sealed-secrets.ts";
import { type WebhookSettings, webhookSettings } from "./settings.ts";
import type { DisabledReason } from "./subscriptions.ts";

/** The channel the fan-out trigger (and a manual retry) notifies when deliveries are due now. */
export const webhookChannel = "cellvi_webhooks";

/** What metrics (issue 9) and tests can observe. Every hook is optional and must not throw or block. */
export interface DispatchObserver {
  /** After every attempt, before its outcome is written. */
  onAttempt?(attempt: AttemptObservation): void;
  /** After a batch of outcomes is written. */
  onRecorded?(count: number, stale: number): void;
  onSubscriptionDisabled?(subscriptionId: string, reason: DisabledReason): void;
  /** A claim or a write failed; it is retried. */
  onError?(error: unknown, phase: "claim" | "record"): void;
}

export interface AttemptObservation {
  tenantId: string;
  subscriptionId: string;
  deliveryId: string;
  eventId: string;
  eventType: string;
  attempt: number;
  outcome: "succeeded" | "failed";
  /** succeeded, pending (a retry is scheduled) or failed (for good). */
  deliveryStatus: "succeeded" | "pending" | "failed";
  statusCode: number | null;
  /**
   * `timeout`, `connection`, `blocked`, `tls`, `other`, `http` for a non-2xx answer, or `not_sent` when the
   * signing secret could not be opened (nothing was sent); null on success.
   */
  errorKind: string | null;
  durationMs: number;
  /** From the event's commit (the delivery row's creation) to the end of this attempt. */
  latencyMs: number;
}

export interface DispatcherOptions {
  /** Defaults to `services.webhookSender`. */
  sender?: WebhookSender;
  observer?: DispatchObserver;
  /** Overrides of the configured settings (tests compress timings with these). */
  settings?: Partial<WebhookSettings>;
  /** The jitter's randomness, injectable for tests. */
  random?: () => number;
  /**
   * Milliseconds on a monotonic clock (`performance.now` by default), for judging locally whether a claim is still
   * within its lease; injectable for tests. Not `services.clock`: tests move that one by hours to reach retries, and
   * a wall clock can jump.
   */
  monotonicNow?: () => number;
}

export interface DispatchCounters {
  claimed: number;
  succeeded: number;
  /** Failed attempts with a retry scheduled. */
  retried: number;
  /** Failed attempts that ended their delivery. */
  failed: number;
  /**
   * Attempts not sent because the subscription's signing secret could not be opened (a key missing from the
   * configuration): given back, their deliveries wait for the key (not counted in `retried`).
   */
  waiting: number;
  /** Outcomes not written because the claim had been lost (the lease ran out and another worker took over). */
  stale: number;
  /**
   * Claimed deliveries dropped unsent: their claim's lease could have run out before an attempt started then could
   * finish and write its outcome (a worker frozen or starved while they waited for their endpoint's slot). Nothing
   * is sent or written for them; they are due again when the lease ends, for whichever worker claims them.
   */
  expired: number;
}

/**
 * How long finished attempts' outcomes wait to be written together (see DispatchEngine.scheduleFlush). 20 ms until
 * session 9: at 200 deliveries/s that made writes of about 4 outcomes, at about 135 µs of PostgreSQL CPU per
 * delivery, against about 65 for writes of 20 (`bench/outcome-write-cost.ts`; a write's own cost, some 360 µs, is
 * shared by its rows).
 */
const outcomeWriteDelayMs = 100;

/** At most one warning this often about attempts not sent for a secret that does not open (each is logged at debug). */
const secretWarningIntervalMs = 60_000;

/**
 * The part shared by the long-running Node dispatcher and the bounded batch an Edge Function runs: claiming within
 * the concurrency bounds, attempting, and writing outcomes in batches (one write at a time; outcomes that finish
 * meanwhile join the next write, so the write rate stays low however fast deliveries go).
 */
class DispatchEngine {
  /** Attempts running now. */
  inFlight = 0;
  /** Deliveries this engine holds: attempts running plus claimed ones waiting for their endpoint to free up. */
  held = 0;
  readonly counters: DispatchCounters = {
    claimed: 0,
    succeeded: 0,
    retried: 0,
    failed: 0,
    waiting: 0,
    stale: 0,
    expired: 0,
  };
  private readonly heldBySubscription = new Map<string, number>();
  private readonly runningBySubscription = new Map<string, number>();
  /**
   * Claimed deliveries waiting for a free slot of their endpoint. Claiming up to twice the per-endpoint bound keeps
   * the next deliveries at hand, so a busy endpoint's slots refill without waiting for a claim query. A delivery
   * waits at most about one attempt (the bound's worth of attempts ahead of it run in parallel), far inside its lease.
   */
  private readonly waiting = new Map<string, ClaimedDelivery[]>();
  private readonly running = new Set<Promise<void>>();
  /** Per held delivery, the latest moment (monotonic clock) its attempt may start: see `startWindowMs`. */
  private readonly startBy = new WeakMap<ClaimedDelivery, number>();
  /** Subscriptions whose endpoint answered 410 and whose disabling is not written yet: never claimed meanwhile. */
  private readonly excluded = new Set<string>();
  private toRelease: ClaimedDelivery[] = [];
  private records: AttemptRecord[] = [];
  private flushing: Promise<void> | null = null;
  private slotWaiters: { needed: number; freed: number; resolve: () => void }[] = [];
  /** Called when an attempt ends (a slot is free) and after outcomes are written, with the earliest retry. */
  onSlotFreed: () => void = () => {};
  onRetryScheduled: (at: Date) => void = () => {};
  /** Opens the claimed secrets, keeping the opened ones per process (sealed-secrets.ts). */
  private readonly secrets: WebhookSecretOpener;
  /** Attempts not sent for a secret that does not open since the last warning, and when that was. */
  private unopenedSinceWarning = 0;
  private lastSecretWarningAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly services: Services,
    readonly settings: WebhookSettings,
    private readonly sender: WebhookSender,
    readonly observer: DispatchObserver,
    private readonly random: () => number,
    private readonly monotonicNow: () => number,
  ) {
    this.secrets = webhookSecretOpener(services.config, services.db.kind);
  }

  /** How many deliveries of one subscription this engine holds at most (running and waiting). */
  get perSubscriptionHold(): number {
    return this.settings.endpointConcurrency * 2;
  }

  /** Some subscription holds as many deliveries as it may: the last claim was cut short for it. */
  get saturated(): boolean {
    for (const count of this.heldBySubscription.values()) if (count >= this.perSubscriptionHold) return true;
    return false;
  }

  /**
   * The last claim was cut short by the per-endpoint bound: once its rows were added to what was held when it
   * started, some subscription held as many deliveries as it may. `saturated`, asked after the claim, cannot say
   * so: the attempts that finished while the claim ran (a fast endpoint's, a few per millisecond) have freed slots
   * by then.
   */
  lastClaimBounded = false;

  /**
   * How long after sending its claim a delivery may still start. The lease ends `leaseMs` after the claim's `now`,
   * taken before the statement was sent, so "sent + lease" on this worker's monotonic clock never ends later than
   * the lease does. An attempt started must be able to run its whole timeout and have its outcome written (gathered
   * for `outcomeWriteDelayMs`, then a round trip) before that: a margin of a second, or half of what the lease leaves
   * beyond the timeout when that is less (the lease is at least timeout + 1 s, settings.ts).
   */
  get startWindowMs(): number {
    const slack = this.settings.leaseMs - this.settings.timeoutMs;
    return slack - Math.min(1_000, slack / 2);
  }

  async claimAndStart(limit: number): Promise<number> {
    const heldAtClaim = new Map(this.heldBySubscription);
    const startBy = this.monotonicNow() + this.startWindowMs;
    // A subscription already at its bound is left out of the claim: that alone cuts it short.
    let bounded = this.saturated;
    const batch = await claimDueDeliveries(this.services.db, {
      now: this.services.clock.now(),
      limit,
      leaseMs: this.settings.leaseMs,
      perEndpoint: this.perSubscriptionHold,
      inFlight: this.heldBySubscription,
      exclude: [...this.excluded],
      leaseToken: randomUUID(),
    });
    this.counters.claimed += batch.length;
    const hold = this.perSubscriptionHold;
    for (const delivery of batch) {
      const count = (heldAtClaim.get(delivery.subscription_id) ?? 0) + 1;
      heldAtClaim.set(delivery.subscription_id, count);
      if (count >= hold) bounded = true;
    }
    this.lastClaimBounded = bounded;
    for (const delivery of batch) {
      this.held++;
      bump(this.heldBySubscription, delivery.subscription_id, 1);
      this.startBy.set(delivery, startBy);
      if (
        (this.runningBySubscription.get(delivery.subscription_id) ?? 0) < this.settings.endpointConcurrency
      ) {
        this.startOrDrop(delivery);
      } else {
        const queue = this.waiting.get(delivery.subscription_id) ?? [];
        queue.push(delivery);
        this.waiting.set(delivery.subscription_id, queue);
      }
    }
    return batch.length;
  }

  /**
   * Starts the attempt, unless the delivery's claim may no longer hold by the time the attempt's outcome is written
   * (the worker was frozen or starved while it waited; the claim itself may have come back that late). Such a
   * delivery is dropped unsent: its row may be another worker's claim by now, so sending would be a duplicate and
   * nothing of this worker's may touch the row (no release, no outcome); if nobody claimed it, it is due again when
   * its lease ends, with the attempt the claim counted used up, as after a crash. Returns whether it started.
   */
  private startOrDrop(delivery: ClaimedDelivery): boolean {
    if (this.monotonicNow() <= (this.startBy.get(delivery) ?? Number.POSITIVE_INFINITY)) {
      this.start(delivery);
      return true;
    }
    this.held--;
    bump(this.heldBySubscription, delivery.subscription_id, -1);
    this.counters.expired++;
    this.services.logger.warn(
      { delivery_id: delivery.id, subscription_id: delivery.subscription_id, event_id: delivery.event_id },
      "webhook delivery dropped unsent: its claim's lease ran out (or would before an attempt could finish) while it waited",
    );
    return false;
  }

  private start(delivery: ClaimedDelivery): void {
    this.inFlight++;
    bump(this.runningBySubscription, delivery.subscription_id, 1);
    const run = attemptDelivery(delivery, {
      sender: this.sender,
      clock: this.services.clock,
      timeoutMs: this.settings.timeoutMs,
      policy: this.settings.policy,
      secrets: this.secrets,
      waitForSecrets: true,
      random: this.random,
    }).then((report) => this.finished(delivery.tenant_id, delivery.event_type, delivery.event_id, report));
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
  }

  /** Hands back the claimed deliveries that have not started (a stopping worker releases them to the others). */
  takeWaiting(): ClaimedDelivery[] {
    const all = [...this.waiting.values()].flat();
    this.waiting.clear();
    for (const delivery of all) {
      this.held--;
      bump(this.heldBySubscription, delivery.subscription_id, -1);
    }
    return all;
  }

  private finished(tenantId: string, eventType: string, eventId: string, report: AttemptReport): void {
    const { record, result } = report;
    this.inFlight--;
    this.held--;
    bump(this.runningBySubscription, record.subscriptionId, -1);
    bump(this.heldBySubscription, record.subscriptionId, -1);
    const queue = this.waiting.get(record.subscriptionId);
    let next = queue?.shift();
    while (next && !this.startOrDrop(next)) next = queue?.shift();
    if (queue?.length === 0) this.waiting.delete(record.subscriptionId);
    if (record.outcome === "succeeded") this.counters.succeeded++;
    else if (record.waitsForSecret) this.counters.waiting++;
    else if (record.deliveryStatus === "pending") this.counters.retried++;
    else this.counters.failed++;
    if (record.notSent) this.warnUnopened(record);
    this.services.logger.debug(
      {
        delivery_id: record.deliveryId,
        subscription_id: record.subscriptionId,
        event_id: eventId,
        attempt: record.attempt,
        outcome: record.outcome,
        status_code: record.statusCode,
        ms: record.durationMs,
      },
      "webhook attempt",
    );
    try {
      this.observer.onAttempt?.({
        tenantId,
        subscriptionId: record.subscriptionId,
        deliveryId: record.deliveryId,
        eventId,
        eventType,
        attempt: record.attempt,
        outcome: record.outcome,
        deliveryStatus: record.deliveryStatus,
        statusCode: record.statusCode,
        errorKind: record.notSent
          ? "not_sent"
          : result.kind === "error"
            ? result.reason
            : record.outcome === "failed"
              ? "http"
              : null,
        durationMs: record.durationMs,
        latencyMs: report.latencyMs,
      });
    } catch (error) {
      this.services.logger.warn({ err: error }, "webhook observer failed");
    }
    this.records.push(record);
    if (record.disableSubscription) {
      // The endpoint is gone: claim nothing more for it, and hand back what is waiting for it, until the write that
      // disables the subscription has committed (after which claims fail its deliveries instead of sending them).
      this.excluded.add(record.subscriptionId);
      for (const delivery of this.waiting.get(record.subscriptionId) ?? []) {
        this.held--;
        bump(this.heldBySubscription, delivery.subscription_id, -1);
        this.toRelease.push(delivery);
      }
      this.waiting.delete(record.subscriptionId);
      void this.flush();
    } else {
      this.scheduleFlush();
    }
    this.slotWaiters = this.slotWaiters.filter((waiter) => {
      waiter.freed++;
      if (waiter.freed < waiter.needed && this.held > 0) return true;
      waiter.resolve();
      return false;
    });
    this.onSlotFreed();
  }

  /**
   * An operator's mistake (a key missing from the configuration) that holds every delivery of the subscriptions it
   * sealed: said at warn level, but once a minute with a count, since during such an outage every waiting delivery
   * is tried again now and then.
   */
  private warnUnopened(record: AttemptRecord): void {
    this.unopenedSinceWarning++;
    const now = performance.now();
    if (now - this.lastSecretWarningAt < secretWarningIntervalMs) return;
    this.services.logger.warn(
      {
        not_sent: this.unopenedSinceWarning,
        subscription_id: record.subscriptionId,
        delivery_id: record.deliveryId,
        reason: record.error,
      },
      "webhook deliveries not sent: a signing secret cannot be opened (CONNECTOR_ENCRYPTION_KEY or CONNECTOR_ENCRYPTION_PREVIOUS_KEYS lacks the key that sealed it); they wait for the key",
    );
    this.lastSecretWarningAt = now;
    this.unopenedSinceWarning = 0;
  }

  /**
   * How many slots must free up before claiming again while held back. Claiming for every single finished attempt
   * would cost a query per delivery under load; waiting for a quarter of a batch keeps claims batched.
   */
  get refillThreshold(): number {
    return Math.max(1, Math.floor(Math.min(this.settings.batchSize, this.settings.endpointConcurrency) / 4));
  }

  /** Resolves once `needed` held deliveries have been attempted, or none is left. */
  waitForSlots(needed = this.refillThreshold): Promise<void> {
    if (this.held === 0) return Promise.resolve();
    return new Promise((resolve) => this.slotWaiters.push({ needed, freed: 0, resolve }));
  }

  private flushTimer: ReturnType<typeof setTimeout> | null = null;

  /**
   * Writes a little later rather than now: the outcomes of the attempts that finish within `outcomeWriteDelayMs`
   * go into one write (a full batch is written at once). Each write is a statement with its own round trip and a
   * share of the database's CPU, taken from the claims that the next deliveries wait for; the outcomes are not on
   * any delivery's path, and their claims hold for the lease (timeout + 30 s), so a tenth of a second costs nothing
   * but the time a delivery's status still reads `pending` after its answer, and what a SIGKILL loses (outcomes not
   * written: their deliveries are sent again once the lease runs out).
   */
  private scheduleFlush(): void {
    if (this.records.length >= this.settings.batchSize) {
      if (this.flushTimer) clearTimeout(this.flushTimer);
      this.flushTimer = null;
      void this.flush();
      return;
    }
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      void this.flush();
    }, outcomeWriteDelayMs);
    // Never what keeps a process alive: drain() writes whatever is left.
    (this.flushTimer as { unref?: () => void }).unref?.();
  }

  /** Writes the outcomes gathered so far; concurrent calls share the running write and the next one. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing.then(() => (this.records.length > 0 ? this.flush() : undefined));
    if (this.records.length === 0) return Promise.resolve();
    this.flushing = this.writeAll().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  /** Set by drain: write whatever is gathered without waiting for the gathering timer. */
  private writeEverything = false;

  /** Set while stopping: gives up writing after this many failed tries (the leases then bring the rows back). */
  giveUpAfterTries = Number.POSITIVE_INFINITY;

  private async writeAll(): Promise<void> {
    let tries = 0;
    while (this.records.length > 0) {
      const batch = this.records.splice(0, Math.max(this.settings.batchSize * 2, 100));
      try {
        const outcome = await recordAttemptOutcomes(this.services.db, batch, {
          now: this.services.clock.now(),
          disableAfterMs: this.settings.policy.disableAfterMs,
          secretWaitMaxMs: secretWaitBounds(this.settings.policy).maxMs,
          leaseMs: this.settings.leaseMs,
        });
        tries = 0;
        this.counters.stale += outcome.stale;
        this.observer.onRecorded?.(batch.length, outcome.stale);
        for (const { subscriptionId, reason } of outcome.disabled) {
          this.services.logger.warn(
            { subscription_id: subscriptionId, reason },
            "webhook subscription disabled",
          );
          this.observer.onSubscriptionDisabled?.(subscriptionId, reason);
        }
        let earliest: Date | null = null;
        for (const record of batch) {
          if (record.nextAttemptAt && (!earliest || record.nextAttemptAt < earliest))
            earliest = record.nextAttemptAt;
        }
        if (earliest) this.onRetryScheduled(earliest);
        const gone = new Set(batch.filter((r) => r.disableSubscription).map((r) => r.subscriptionId));
        if (gone.size > 0) {
          const release = this.toRelease.filter((d) => gone.has(d.subscription_id));
          this.toRelease = this.toRelease.filter((d) => !gone.has(d.subscription_id));
          await releaseClaims(this.services.db, release, this.services.clock.now()).catch(
            (error: unknown) => {
              this.services.logger.warn({ err: error }, "releasing claims failed; their leases will expire");
            },
          );
          for (const id of gone) this.excluded.delete(id);
        }
        // The outcomes that finished during this write wait for their own gathering (scheduleFlush armed its timer
        // when the first of them arrived) unless they fill a batch. Writing them at once ran the writes back to
        // back whenever a write took a few milliseconds: at 1,000 deliveries/s, a write of about 10 outcomes every
        // 10 ms instead of one every 20 ms or more.
        if (this.records.length < this.settings.batchSize && !this.writeEverything) break;
      } catch (error) {
        tries++;
        this.services.logger.warn(
          { err: error, records: batch.length, tries },
          "recording webhook outcomes failed",
        );
        this.observer.onError?.(error, "record");
        if (tries >= this.giveUpAfterTries) {
          // Not written: the claims expire and the deliveries are sent again (at least once, never lost).
          this.services.logger.error({ records: batch.length }, "gave up recording webhook outcomes");
          continue;
        }
        this.records.unshift(...batch);
        await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 200 * 2 ** Math.min(tries, 5))));
      }
    }
  }

  /** Waits for every attempt in flight, then writes their outcomes. */
  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
    this.writeEverything = true;
    await this.flush();
  }
}

/** Adds `delta` to a per-key count, forgetting keys that reach zero. */
function bump(counts: Map<string, number>, key: string, delta: number): void {
  const next = (counts.get(key) ?? 0) + delta;
  if (next <= 0) counts.delete(key);
  else counts.set(key, next);
}

/** Feeds the service's Prometheus metrics (attempts by outcome, round trip, event-to-answer latency, finals). */
export function metricsObserver(metrics: Metrics): DispatchObserver {
  return {
    onAttempt(attempt) {
      const outcome =
        attempt.outcome === "succeeded"
          ? "succeeded"
          : attempt.errorKind === "http"
            ? "http_error"
            : attempt.errorKind === "timeout"
              ? "timeout"
              : attempt.errorKind === "not_sent"
                ? "not_sent"
                : "network_error";
      metrics.observeWebhookAttempt({
        outcome,
        seconds: attempt.durationMs / 1000,
        ...(attempt.outcome === "succeeded" ? { eventAgeSeconds: attempt.latencyMs / 1000 } : {}),
      });
      if (attempt.deliveryStatus === "succeeded") metrics.observeWebhookDeliveryFinished("delivered");
      else if (attempt.deliveryStatus === "failed") metrics.observeWebhookDeliveryFinished("failed");
    },
  };
}

/** Calls every observer's hook in turn; one that throws does not keep the others from seeing the event. */
function combineObservers(observers: DispatchObserver[]): DispatchObserver {
  const each = <K extends keyof DispatchObserver>(name: K) =>
    ((...args: unknown[]) => {
      for (const observer of observers) {
        try {
          (observer[name] as ((...a: unknown[]) => void) | undefined)?.(...args);
        } catch {
          // An observer is a side channel: its failure must not affect delivery.
        }
      }
    }) as NonNullable<DispatchObserver[K]>;
  return {
    onAttempt: each("onAttempt"),
    onRecorded: each("onRecorded"),
    onSubscriptionDisabled: each("onSubscriptionDisabled"),
    onError: each("onError"),
  };
}

function engineFor(services: Services, options: DispatcherOptions): DispatchEngine {
  const settings = { ...webhookSettings(services.config), ...options.settings };
  const observers = [metricsObserver(services.metrics), ...(options.observer ? [options.observer] : [])];
  return new DispatchEngine(
    services,
    settings,
    options.sender ?? services.webhookSender,
    combineObservers(observers),
    options.random ?? Math.random,
    options.monotonicNow ?? (() => performance.now()),
  );
}

export interface DispatchBatchOptions extends DispatcherOptions {
  /** Claim at most this many deliveries in this call. */
  maxDeliveries?: number;
  /** Stop claiming after this long; attempts already started still finish (each within the timeout). */
  maxMillis?: number;
}

export interface DispatchBatchResult extends DispatchCounters {
  durationMs: number;
  /** A limit stopped the batch: more deliveries may be due, so call again. */
  more: boolean;
}

/**
 * Drains due deliveries for a bounded time and count, then returns: what a Supabase Edge Function runs per
 * invocation (it cannot run for ever). The same claim, attempt and write code as the long-running dispatcher.
 */
export async function runDispatchBatch(
  services: Services,
  options: DispatchBatchOptions = {},
): Promise<DispatchBatchResult> {
  const engine = engineFor(services, options);
  const maxDeliveries = options.maxDeliveries ?? 1_000;
  const started = performance.now();
  const deadline = started + (options.maxMillis ?? 20_000);
  let claimed = 0;
  let more = false;
  try {
    for (;;) {
      if (claimed >= maxDeliveries || performance.now() >= deadline) {
        more = true;
        break;
      }
      const want = Math.min(
        engine.settings.concurrency - engine.held,
        maxDeliveries - claimed,
        engine.settings.batchSize,
      );
      // Deliveries held when the claim starts take their endpoints' slots: such a claim may come back short while
      // more is due, even if those attempts have finished by the time it answers (they often have).
      let heldAtClaim = false;
      if (want > 0) {
        heldAtClaim = engine.held > 0;
        const got = await engine.claimAndStart(want);
        claimed += got;
        if (got === want) continue;
        // Fewer than asked by a claim that nothing held back: nothing else is due.
        if (!heldAtClaim && !engine.saturated) break;
      }
      if (engine.held === 0) {
        if (heldAtClaim) continue;
        break;
      }
      await engine.waitForSlots();
    }
  } finally {
    await engine.drain();
  }
  return { ...engine.counters, durationMs: Math.round(performance.now() - started), more };
}

export interface Dispatcher {
  /** Look for due deliveries now (NOTIFY does this; exposed for tests and for callers that just queued work). */
  wake(): void;
  /** Stops claiming, lets attempts in flight finish, writes their outcomes, and resolves. */
  stop(): Promise<void>;
  readonly inFlight: number;
  readonly counters: Readonly<DispatchCounters>;
}

/**
 * The long-running dispatcher (`npm start` in-process, `cli worker` on its own). Woken by NOTIFY on
 * `cellvi_webhooks` when deliveries are written (by one of the transactions committing together, migration 0007),
 * and looks again shortly after every claim that found work, which covers the others; sleeps until the earliest
 * scheduled retry; polls every `WEBHOOK_POLL_INTERVAL` as a safety net for notifications lost while disconnected.
 * Any number may run against one database.
 */
export async function startDispatcher(
  services: Services,
  options: DispatcherOptions = {},
): Promise<Dispatcher> {
  const engine = engineFor(services, options);
  const { settings } = engine;
  const log = services.logger;
  let stopping = false;
  let claiming = false;
  let wakeRequested = false;
  // A claim was cut short by a bound (batch size, concurrency, a saturated endpoint): claim again on a free slot.
  let heldBack = false;
  let freedSinceHeldBack = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timerAt = Number.POSITIVE_INFINITY;
  // Claim pacing while caught up (WEBHOOK_CLAIM_INTERVAL): when the last claim began, and whether it took every due
  // delivery it could.
  let lastClaimAt = Number.NEGATIVE_INFINITY;
  let caughtUp = true;
  let endPacing: (() => void) | undefined;

  const sleepUntil = (at: number, soonestMs = 5) => {
    if (stopping) return;
    const now = Date.now();
    // Never sooner than 5 ms unless asked (a row due now but not claimable must not spin), never later than the
    // poll.
    const target = Math.min(Math.max(at, now + soonestMs), now + settings.pollIntervalMs);
    if (timer && timerAt <= target) return;
    if (timer) clearTimeout(timer);
    timerAt = target;
    timer = setTimeout(() => {
      timer = undefined;
      timerAt = Number.POSITIVE_INFINITY;
      wake();
    }, target - now);
    timer.unref?.();
  };

  const pump = async () => {
    claiming = true;
    let found = false;
    try {
      while (wakeRequested && !stopping) {
        wakeRequested = false;
        // No pacing while a subscription holds all it may (session 5 paced such claims to one per 100 ms, when
        // skipping it meant reading past its whole due backlog): since migration 0013 what a claim reads is bounded
        // by its own limits whatever one subscription's backlog, so the others' deliveries are claimed at the next
        // wake-up (NOTIFY, a freed slot), not the next 100 ms.
        const want = Math.min(settings.concurrency - engine.held, settings.batchSize);
        if (want <= 0) {
          heldBack = true;
          freedSinceHeldBack = 0;
          return;
        }
        // WEBHOOK_CLAIM_INTERVAL (off by default): caught up (the last claim took less than it could and no bound
        // cut it short), new deliveries come a few at a time with their commits; gather them until the interval
        // since the last claim began is over instead of claiming each trickle alone. A backlog is never paced.
        // Wakes meanwhile only mark the next claim as wanted; stop() ends the wait.
        const waitMs = caughtUp ? lastClaimAt + settings.claimIntervalMs - performance.now() : 0;
        if (waitMs > 0) {
          await new Promise<void>((resolve) => {
            const paced = setTimeout(() => {
              endPacing = undefined;
              resolve();
            }, waitMs);
            endPacing = () => {
              clearTimeout(paced);
              endPacing = undefined;
              resolve();
            };
          });
          if (stopping) return;
        }
        lastClaimAt = performance.now();
        const got = await engine.claimAndStart(want);
        caughtUp = got < want && !engine.lastClaimBounded;
        // Held back by what the claim could take when it started. Judged by what is held after it returned (as
        // until session 7), a claim cut short by a fast endpoint's bound looked unbounded whenever attempts had
        // finished meanwhile, and the dispatcher slept (the recheck, a query for the next due time, at least 5 ms)
        // while the deliveries it held ran out: in scenario 5 with one worker it slept with no attempt running for
        // 8.6 s of a 20 s drain (docs/decisions/webhook-delivery.md, session 7).
        heldBack = got === want || engine.lastClaimBounded;
        freedSinceHeldBack = 0;
        if (got === want) wakeRequested = true;
        if (got > 0) found = true;
      }
      if (stopping || heldBack) return;
      // This round found deliveries: of the transactions that committed along with them only one notified, and
      // the others may become visible just after this claim. Look once more a little later at the latest (and
      // again after that look if it finds any); the earliest due delivery below may wake it sooner. Skipping that
      // query after a look that found deliveries saves queries at low rates, but draining a backlog it cut one
      // worker from 1,402-1,483 to 939-1,014 deliveries/s (scenario 5, session 3): the query is what wakes the
      // next claim at once while deliveries are due.
      if (found && settings.recheckIntervalMs > 0) sleepUntil(Date.now() + settings.recheckIntervalMs, 1);
      // Idle: sleep until the earliest pending delivery (retry or lease) is due. The clock may be injected, so
      // convert its "now" to a distance.
      const next = await nextDueAt(services.db);
      if (next) sleepUntil(Date.now() + (next.getTime() - services.clock.now().getTime()));
      else sleepUntil(Number.POSITIVE_INFINITY);
    } catch (error) {
      log.warn({ err: error }, "claiming webhook deliveries failed");
      engine.observer.onError?.(error, "claim");
      sleepUntil(Date.now() + 1_000);
    } finally {
      claiming = false;
      // A wake that arrived during the last query.
      if (wakeRequested && !stopping) void pump();
    }
  };

  function wake(): void {
    if (stopping) return;
    wakeRequested = true;
    if (!claiming) void pump();
  }

  // Held back by a bound: claim again once a few slots are free (or none is busy), not for every single one.
  engine.onSlotFreed = () => {
    if (!heldBack) return;
    freedSinceHeldBack++;
    if (freedSinceHeldBack >= engine.refillThreshold || engine.held === 0) {
      heldBack = false;
      wake();
    }
  };
  engine.onRetryScheduled = (at) => sleepUntil(Date.now() + (at.getTime() - services.clock.now().getTime()));

  const unlisten = await services.db.listen(webhookChannel, () => wake());
  const poll = setInterval(() => wake(), settings.pollIntervalMs);
  poll.unref?.();
  wake();
  log.info(
    {
      concurrency: settings.concurrency,
      per_endpoint: settings.endpointConcurrency,
      lease_ms: settings.leaseMs,
    },
    "webhook dispatcher started",
  );

  let stopped: Promise<void> | undefined;
  return {
    wake,
    get inFlight() {
      return engine.inFlight;
    },
    counters: engine.counters,
    stop() {
      stopped ??= (async () => {
        stopping = true;
        endPacing?.();
        // Claimed but not started: handed back at once (due again for the other workers, not after the lease).
        const notStarted = engine.takeWaiting();
        clearInterval(poll);
        if (timer) clearTimeout(timer);
        await unlisten().catch(() => {});
        // A claim may be running: let it finish, so that what it took is either attempted or handed back.
        while (claiming) await new Promise((resolve) => setTimeout(resolve, 5));
        notStarted.push(...engine.takeWaiting());
        await releaseClaims(services.db, notStarted, services.clock.now()).catch((error: unknown) => {
          log.warn(
            { err: error, deliveries: notStarted.length },
            "releasing claims failed; their leases will expire",
          );
        });
        engine.giveUpAfterTries = 5;
        await engine.drain();
        log.info({ ...engine.counters }, "webhook dispatcher stopped");
      })();
      return stopped;
    },
  };
}
