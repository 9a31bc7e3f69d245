import { createHash } from "node:crypto";
import { Redis } from "ioredis";
import { EndOfTurn } from "../../end-of-turn.ts";
import {
  decisionOf,
  type GcraState,
  gcraParameters,
  gcraStep,
  type RateLimitDecision,
  type RateLimiter,
  type RateLimitPolicy,
} from "./types.ts";

/**
 * The GCRA step of `gcraStep` (types.ts), line for line, run atomically inside Redis for a batch of requests of
 * one subject, in arrival order, each decided in turn at the same instant, exactly as that many separate calls
 * arriving back to back would be. The batch comes run-length encoded: ARGV[3..] are pairs (increment, count), the
 * increment being cost × interval, so a batch of equal costs (every request of the API) is four arguments however
 * long it is. One round trip per batch, and no two instances can interleave between the read and the write. Time is
 * Redis's own `TIME`, so instances with skewed clocks still share one timeline. All arithmetic is in whole
 * microseconds (exact in Lua's doubles up to 2^53 µs, i.e. far beyond our lifetime); the stored value
 * (`<tat>:<interval>`) is formatted with %.0f because Lua's default number formatting keeps only 14 significant
 * digits.
 *
 * Returns three numbers whatever the batch's size: Redis's `now`, the arrival time the batch started from (the
 * stored one carried over to this interval, or `now`), and the one it ended at. The caller replays the same steps
 * from the first two with `gcraStep` to get each request's decision, and checks that it ends at the third.
 */
export const gcraScript = `
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tat = now
local stored = redis.call('GET', KEYS[1])
if stored then
  local stored_tat, stored_interval = string.match(stored, '^(%d+):(%d+)$')
  stored_tat = tonumber(stored_tat)
  stored_interval = tonumber(stored_interval)
  if stored_tat and stored_interval and stored_tat > now then
    if stored_interval == interval then
      tat = stored_tat
    else
      tat = now + math.ceil((stored_tat - now) * interval / stored_interval)
    end
  end
end
local start = tat
for i = 3, #ARGV, 2 do
  local increment = tonumber(ARGV[i])
  for _ = 1, tonumber(ARGV[i + 1]) do
    local new_tat = tat + increment
    if new_tat - burst <= now then
      tat = new_tat
    end
  end
end
if tat ~= start then
  redis.call('SET', KEYS[1], string.format('%.0f:%.0f', tat, interval), 'PX', string.format('%d', math.ceil((tat - now) / 1000) + 1))
end
return {now, start, tat}
`;

const scriptSha = createHash("sha1").update(gcraScript).digest("hex");

/**
 * Gives back what an instance reserved and did not use (see `Lane.credit`): moves the subject's arrival time back by
 * ARGV[2] microseconds, never before now, when it is still kept with the interval ARGV[1] (after a limit change the
 * reserve is left to expire with it). What other instances took meanwhile stays counted: only the reserve's own
 * units come back.
 */
export const refundScript = `
local interval = tonumber(ARGV[1])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local stored = redis.call('GET', KEYS[1])
if not stored then return 0 end
local stored_tat, stored_interval = string.match(stored, '^(%d+):(%d+)$')
stored_tat = tonumber(stored_tat)
if not stored_tat or tonumber(stored_interval) ~= interval or stored_tat <= now then return 0 end
local tat = math.max(now, stored_tat - tonumber(ARGV[2]))
if tat > now then
  redis.call('SET', KEYS[1], string.format('%.0f:%.0f', tat, interval), 'PX', string.format('%d', math.ceil((tat - now) / 1000) + 1))
else
  redis.call('DEL', KEYS[1])
end
return 1
`;

/**
 * How much of a policy's quota one instance may hold in reserve: a hundredth of it, and at most `maxReserve`
 * requests. Below 200 requests per window that is less than two requests, and nothing is reserved: the default
 * quota (100 a minute) is decided in Redis request by request, as before reserves existed.
 */
const reserveShare = 100;
const maxReserve = 1024;

/** At most this many requests are decided by one script call (the rest wait for the next call). */
const maxBatch = 256;

export interface RedisRateLimiterOptions {
  url: string;
  /** Prepended to every key, so deployments and test runs can share a server. */
  prefix: string;
  /** A decision slower than this fails (and the caller falls back). */
  commandTimeoutMs: number;
  /** Called on connection errors (ioredis reports each reconnect attempt). */
  onConnectionError?: (error: Error) => void;
  /**
   * A reserve no request drew on for this long is given back to Redis (default 1,000 ms); `false` reserves nothing,
   * so that every request is decided in Redis.
   */
  reserveHoldMs?: number | false;
}

/** Receives one request's decision, or the error that failed its call (exactly one of the two, once). */
export type DecisionCallback = (error: unknown, decision?: RateLimitDecision) => void;

interface Waiter {
  increment: number;
  done: DecisionCallback;
}

/**
 * One subject under one policy: its requests waiting for a call, and what this instance holds in reserve for it.
 *
 * A busy subject (several requests per round trip) with a large quota reserves requests ahead: each call also asks
 * Redis for up to `reserveFor` further requests, decided and charged there like any other, and this instance then
 * admits that many of the subject's next requests without a round trip (at the end of their turn, as the in-memory
 * limiter answers), asking for more when half is used. The shared budget still holds exactly: what is reserved is
 * already counted in Redis, so all instances together never admit more than the quota. What it costs is the other
 * way: a reserve held by one instance is not available to the others, at most a hundredth of the quota per
 * instance, and what nobody used within `reserveHoldMs` is given back (`refundScript`).
 */
interface Lane {
  subject: string;
  key: string;
  interval: number;
  burst: number;
  /** The most this lane reserves, in requests of cost 1 (0: it never reserves). */
  reserveCap: number;
  queued: Waiter[];
  /** Waiting in `due` or with a call in flight (it then gets no second one). */
  busy: boolean;
  /** Microseconds of arrival time reserved in Redis and not handed out yet (requests of cost c take c × interval). */
  credit: number;
  /** The reserve asked for by the last call, in requests. */
  reserved: number;
  /** The subject's arrival time in Redis after the last reply (this instance's reserve included), Redis's clock
   * then, and this process's `performance.now()` then. */
  tat: number;
  redisNow: number;
  localAt: number;
  /** Requests of this lane since its last call was sent: how busy it is. */
  demand: number;
  /** `performance.now()` of its last request. */
  lastUsed: number;
}

/**
 * Every decision is counted in Redis, atomically, so all instances share one budget (a busy subject with a large
 * quota is admitted from a reserve its calls counted there ahead: see `Lane`). Concurrent requests of the same
 * subject are coalesced: a subject's requests are gathered until the end of the event-loop turn they arrive in
 * (its I/O phase: every request read from the sockets that were ready together) and sent as one call; while that
 * call is in flight, later requests of the subject queue, and are sent together at the end of the turn its reply
 * comes back in. One round trip, one script run and one write decide all of them. Each request still gets its own
 * decision, in arrival order, the same as if the calls had arrived one by one. Gathering until the end of the turn
 * instead of sending an idle subject's first request at once halves the calls of a busy turn (the first request
 * went alone, the rest in a second call); a lone request waits only for the rest of its turn, not for a timer.
 */
export class RedisRateLimiter implements RateLimiter {
  readonly kind = "redis" as const;
  private readonly client: Redis;
  private readonly prefix: string;
  /**
   * Subjects with requests queued, a call in flight or a reserve, by subject, then by policy (nearly always one).
   * Looked up by the subject string the caller already has: a key built per request from the policy's numbers and
   * the prefix was a new string to hash on every decision.
   */
  private readonly lanes = new Map<string, Lane[]>();
  /** Lanes whose queued requests are sent at the end of this turn (none of them has a call in flight). */
  private due: Lane[] = [];
  private closed = false;
  /** Requests admitted from a reserve, answered at the end of their turn. */
  private readonly turn = new EndOfTurn();
  private readonly reserveHoldMs: number | false;
  /** Gives back the reserves nobody drew on for `reserveHoldMs` (runs only while a reserve is held). */
  private sweeper: ReturnType<typeof setInterval> | undefined;
  /**
   * Script calls made and the decisions they returned (their ratio is the mean batch size); requests admitted from a
   * reserve, without a call; reserves given back.
   */
  readonly stats = { calls: 0, decisions: 0, fromReserve: 0, refunds: 0 };

  constructor(options: RedisRateLimiterOptions) {
    this.prefix = options.prefix;
    this.reserveHoldMs = options.reserveHoldMs ?? 1000;
    this.client = new Redis(options.url, {
      // Fail at once while disconnected instead of queueing: a request must not wait for Redis to come back.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs,
      connectTimeout: Math.max(1000, options.commandTimeoutMs),
      // Reconnect for ever, backing off to one attempt per second: recovery needs no operator.
      retryStrategy: (attempt) => Math.min(50 * attempt, 1000),
      lazyConnect: false,
    });
    this.client.on("error", (error: Error) => options.onConnectionError?.(error));
  }

  /** True while the connection is up; decisions are only attempted then. */
  get available(): boolean {
    return this.client.status === "ready";
  }

  /** Calls `listener` whenever the connection is (re)established. */
  onReady(listener: () => void): void {
    this.client.on("ready", listener);
  }

  /** Resolves true once connected, false after `timeoutMs` (the caller starts degraded and recovers later). */
  async waitUntilReady(timeoutMs: number): Promise<boolean> {
    if (this.available) return true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.client.off("ready", onReady);
        resolve(false);
      }, timeoutMs);
      timer.unref?.();
      const onReady = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.client.once("ready", onReady);
    });
  }

  consume(subject: string, policy: RateLimitPolicy, cost = 1): Promise<RateLimitDecision> {
    // A policy it cannot apply throws in the executor and comes back as the promise's rejection.
    return new Promise<RateLimitDecision>((resolve, reject) => {
      this.enqueue(subject, policy, cost, (error, decision) => {
        if (decision) resolve(decision);
        else reject(error);
      });
    });
  }

  /**
   * `consume` without a promise of its own: `done` gets the decision. The resilient wrapper answers through this,
   * so a keyed request's decision passes one promise instead of two chained ones. Throws (synchronously) a policy it
   * cannot apply.
   */
  enqueue(subject: string, policy: RateLimitPolicy, cost: number, done: DecisionCallback): void {
    const params = gcraParameters(policy, cost);
    const lane = this.laneFor(subject, policy, params);
    lane.demand++;
    lane.lastUsed = performance.now();
    const decision = this.fromReserve(lane, params.increment);
    if (decision !== undefined) {
      this.turn.add(() => done(undefined, decision));
      return;
    }
    lane.queued.push({ increment: params.increment, done });
    if (!lane.busy) this.sendAtEndOfTurn(lane);
  }

  /**
   * A request its subject's reserve admits, decided at once (no round trip, nothing to wait for); undefined when
   * the reserve cannot admit it, or requests before it still wait: `consume` decides those.
   */
  decideNow(subject: string, policy: RateLimitPolicy, cost = 1): RateLimitDecision | undefined {
    const params = gcraParameters(policy, cost);
    const lane = this.laneFor(subject, policy, params);
    const decision = this.fromReserve(lane, params.increment);
    if (decision !== undefined) {
      lane.demand++;
      lane.lastUsed = performance.now();
    }
    return decision;
  }

  /** The reserve's decision for a request of `increment`, when the reserve admits it and nothing queues before it. */
  private fromReserve(lane: Lane, increment: number): RateLimitDecision | undefined {
    if (lane.queued.length !== 0 || lane.credit < increment) return undefined;
    const decision = this.takeFromReserve(lane, increment);
    // Half of the reserve used: the next one is asked for now, so that the requests after it need not wait.
    if (!lane.busy && lane.credit * 2 < lane.reserved * lane.interval) this.sendAtEndOfTurn(lane);
    return decision;
  }

  private laneFor(
    subject: string,
    policy: RateLimitPolicy,
    params: { interval: number; burst: number },
  ): Lane {
    let lanes = this.lanes.get(subject);
    if (lanes) {
      for (const lane of lanes) {
        if (lane.interval === params.interval && lane.burst === params.burst) return lane;
      }
    } else {
      lanes = [];
      this.lanes.set(subject, lanes);
    }
    const cap =
      this.reserveHoldMs === false ? 0 : Math.min(maxReserve, Math.floor(policy.limit / reserveShare));
    const fresh: Lane = {
      subject,
      key: `${this.prefix}${subject}`,
      interval: params.interval,
      burst: params.burst,
      reserveCap: cap >= 2 ? cap : 0,
      queued: [],
      busy: false,
      credit: 0,
      reserved: 0,
      tat: 0,
      redisNow: 0,
      localAt: 0,
      demand: 0,
      lastUsed: 0,
    };
    lanes.push(fresh);
    return fresh;
  }

  /**
   * The decision of a request admitted from the lane's reserve: the GCRA step Redis would take now, from where the
   * subject would stand had the rest of the reserve not been taken (so `remaining` counts it as still available,
   * which it is, to this instance), on Redis's clock as of the last reply plus the time elapsed here since.
   */
  private takeFromReserve(lane: Lane, increment: number): RateLimitDecision {
    lane.credit -= increment;
    this.stats.fromReserve++;
    const now = lane.redisNow + Math.round((performance.now() - lane.localAt) * 1000);
    const step = gcraStep(
      now,
      { tat: lane.tat - lane.credit - increment, interval: lane.interval },
      { interval: lane.interval, burst: lane.burst, increment },
    );
    // Reserved units were admitted at a time no later than `now`, so the step admits too.
    return decisionOf(step, "redis");
  }

  /**
   * The reserve the lane's next call asks for: four times the requests since its last call (so a reserve drawn on at
   * half doubles each time, up to the lane's cap), and none while its requests come one at a time.
   */
  private reserveFor(lane: Lane): number {
    if (lane.reserveCap === 0 || lane.demand < 2) return 0;
    return Math.min(lane.reserveCap, 4 * lane.demand);
  }

  private sendAtEndOfTurn(lane: Lane): void {
    lane.busy = true;
    this.due.push(lane);
    if (this.due.length === 1) setImmediate(this.sendDue);
  }

  /** Sends each due lane's queued requests (at most `maxBatch` of them) in one call, with the reserve it asks for. */
  private readonly sendDue = (): void => {
    const due = this.due;
    this.due = [];
    for (const lane of due) {
      const queued = lane.queued;
      let batch = queued;
      if (queued.length <= maxBatch) {
        lane.queued = [];
      } else {
        batch = queued.slice(0, maxBatch);
        lane.queued = queued.slice(maxBatch);
      }
      const reserve = this.reserveFor(lane);
      if (batch.length === 0 && reserve === 0) {
        // A refill asked for when half the reserve was used, by a lane no longer busy enough to get one.
        lane.busy = false;
        if (lane.credit === 0) this.drop(lane);
        continue;
      }
      this.send(lane, batch, reserve);
    }
  };

  /** Decides `batch` (and reserves `reserve` requests) in one call; then serves or sends what queued meanwhile. */
  private send(lane: Lane, batch: Waiter[], reserve: number): void {
    this.stats.calls++;
    this.stats.decisions += batch.length;
    lane.demand = 0;
    lane.reserved = reserve;
    // The batch run-length encoded (see gcraScript): interval, burst, then (increment, count) pairs; the reserve is
    // one more pair, of requests of cost 1.
    const args: number[] = [lane.interval, lane.burst];
    for (const waiter of batch) {
      const last = args.length - 2;
      if (last >= 2 && args[last] === waiter.increment) args[last + 1]!++;
      else args.push(waiter.increment, 1);
    }
    if (reserve > 0) args.push(lane.interval, reserve);
    const answer = (reply: unknown) => {
      let replayed: Replayed;
      try {
        replayed = replay(lane, batch, reply, reserve);
      } catch (error) {
        fail(error);
        return;
      }
      lane.credit += replayed.reservedMicros;
      lane.tat = replayed.tat;
      lane.redisNow = replayed.now;
      lane.localAt = performance.now();
      if (lane.credit > 0) this.sweepWhileReserved();
      for (let i = 0; i < batch.length; i++) batch[i]!.done(undefined, replayed.decisions[i]);
      this.next(lane);
    };
    const fail = (error: unknown) => {
      for (const waiter of batch) waiter.done(error);
      this.next(lane);
    };
    this.client.evalsha(scriptSha, 1, lane.key, ...args).then(answer, (error: unknown) => {
      // First use on this server (or after a restart or SCRIPT FLUSH): EVAL sends the body and caches it.
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) return fail(error);
      this.client.eval(gcraScript, 1, lane.key, ...args).then(answer, fail);
    });
  }

  /**
   * After a lane's call: the requests that queued meanwhile are admitted from the reserve it brought, in order, as far
   * as it goes; the rest are sent together at the end of this turn. A lane with nothing queued and no reserve is
   * dropped.
   */
  private next(lane: Lane): void {
    lane.busy = false;
    const queued = lane.queued;
    let served = 0;
    while (served < queued.length && lane.credit >= queued[served]!.increment) {
      const waiter = queued[served]!;
      waiter.done(undefined, this.takeFromReserve(lane, waiter.increment));
      served++;
    }
    if (served > 0) lane.queued = queued.slice(served);
    if (lane.queued.length > 0) {
      this.sendAtEndOfTurn(lane);
      return;
    }
    if (lane.credit === 0) this.drop(lane);
  }

  private drop(lane: Lane): void {
    const lanes = this.lanes.get(lane.subject);
    const at = lanes ? lanes.indexOf(lane) : -1;
    if (lanes && at >= 0) lanes.splice(at, 1);
    if (lanes?.length === 0) this.lanes.delete(lane.subject);
  }

  private sweepWhileReserved(): void {
    if (this.sweeper || this.reserveHoldMs === false || this.closed) return;
    const holdMs = this.reserveHoldMs;
    this.sweeper = setInterval(() => this.giveBackIdle(holdMs), Math.max(10, holdMs / 2));
    this.sweeper.unref?.();
  }

  /** Gives back every reserve no request drew on for `holdMs`; stops sweeping when none is left. */
  private giveBackIdle(holdMs: number): Promise<void>[] {
    const now = performance.now();
    const refunds: Promise<void>[] = [];
    let held = 0;
    for (const lanes of this.lanes.values()) {
      for (const lane of [...lanes]) {
        if (lane.credit === 0 || lane.busy) continue;
        if (now - lane.lastUsed < holdMs) {
          held++;
          continue;
        }
        refunds.push(this.refund(lane));
      }
    }
    if (held === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
    return refunds;
  }

  /** Gives the lane's reserve back to Redis and forgets the lane (if it lost its connection, the reserve expires). */
  private refund(lane: Lane): Promise<void> {
    const micros = lane.credit;
    lane.credit = 0;
    if (lane.queued.length === 0) this.drop(lane);
    this.stats.refunds++;
    return this.client.eval(refundScript, 1, lane.key, lane.interval, micros).then(
      () => undefined,
      () => undefined,
    );
  }

  health() {
    return this.available
      ? { ok: true, detail: "redis", active: "redis" as const, degraded: false }
      : { ok: false, detail: `redis ${this.client.status}`, active: "redis" as const, degraded: true };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Requests of this turn not sent yet go before the goodbye, as they would have when each was sent at once.
    if (this.due.length > 0) this.sendDue();
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    if (this.client.status === "end") return;
    // Reserves go back, so that the other instances can use them at once.
    if (this.available) await Promise.all(this.giveBackIdle(0));
    try {
      await this.client.quit();
    } catch {
      // Not connected: nothing to say goodbye to.
      this.client.disconnect();
    }
  }
}

/** A reply replayed: each request's decision, the reserve Redis granted, its arrival time after the call, its clock. */
export interface Replayed {
  decisions: RateLimitDecision[];
  reservedMicros: number;
  tat: number;
  now: number;
}

/**
 * Each request's decision from the script's reply: the script's steps again, here, with `gcraStep` (it returns only
 * where they began and ended, so a reply is three numbers whatever the batch's size), then those of the `reserve`
 * requests asked for after the batch (as many as fitted were reserved), checked to end where Redis ended.
 */
export function replay(
  lane: { interval: number; burst: number },
  batch: readonly { increment: number }[],
  reply: unknown,
  reserve = 0,
): Replayed {
  const [now, start, end] = Array.isArray(reply) ? (reply as unknown[]) : [];
  if (typeof now !== "number" || typeof start !== "number" || typeof end !== "number") {
    throw new Error(`rate limiter: unexpected reply from redis (${String(reply).slice(0, 80)})`);
  }
  const decisions: RateLimitDecision[] = new Array(batch.length);
  let state: GcraState = { tat: start, interval: lane.interval };
  for (let i = 0; i < batch.length; i++) {
    const step = gcraStep(now, state, {
      interval: lane.interval,
      burst: lane.burst,
      increment: batch[i]!.increment,
    });
    state = step.state;
    decisions[i] = decisionOf(step, "redis");
  }
  const unit = { interval: lane.interval, burst: lane.burst, increment: lane.interval };
  let reserved = 0;
  for (; reserved < reserve; reserved++) {
    const step = gcraStep(now, state, unit);
    // Requests of equal cost: once one does not fit, none after it does.
    if (!step.allowed) break;
    state = step.state;
  }
  if (state.tat !== end) {
    throw new Error(`rate limiter: the script and gcraStep disagree (${end} in redis, ${state.tat} here)`);
  }
  return { decisions, reservedMicros: reserved * lane.interval, tat: end, now };
}
