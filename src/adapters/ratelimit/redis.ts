import { createHash } from "node:crypto";
import { Redis } from "ioredis";
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
}

/** Receives one request's decision, or the error that failed its call (exactly one of the two, once). */
export type DecisionCallback = (error: unknown, decision?: RateLimitDecision) => void;

interface Waiter {
  increment: number;
  done: DecisionCallback;
}

/** The requests of one subject (under one policy) waiting for their call to be sent. */
interface Lane {
  subject: string;
  key: string;
  interval: number;
  burst: number;
  queued: Waiter[];
}

/**
 * Every decision is made in Redis, atomically, so all instances share one budget. Concurrent requests of the same
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
   * Subjects with requests queued or a call in flight, by subject, then by policy (nearly always one). Looked up by
   * the subject string the caller already has: a key built per request from the policy's numbers and the prefix was
   * a new string to hash on every decision.
   */
  private readonly lanes = new Map<string, Lane[]>();
  /** Lanes whose queued requests are sent at the end of this turn (none of them has a call in flight). */
  private due: Lane[] = [];
  private closed = false;
  /** Script calls made and decisions returned; their ratio is the mean batch size. */
  readonly stats = { calls: 0, decisions: 0 };

  constructor(options: RedisRateLimiterOptions) {
    this.prefix = options.prefix;
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
    const waiter: Waiter = { increment: params.increment, done };
    let lanes = this.lanes.get(subject);
    if (lanes) {
      for (const lane of lanes) {
        if (lane.interval === params.interval && lane.burst === params.burst) {
          lane.queued.push(waiter);
          return;
        }
      }
    } else {
      lanes = [];
      this.lanes.set(subject, lanes);
    }
    const fresh: Lane = {
      subject,
      key: `${this.prefix}${subject}`,
      interval: params.interval,
      burst: params.burst,
      queued: [waiter],
    };
    lanes.push(fresh);
    this.sendAtEndOfTurn(fresh);
  }

  private sendAtEndOfTurn(lane: Lane): void {
    this.due.push(lane);
    if (this.due.length === 1) setImmediate(this.sendDue);
  }

  /** Sends each due lane's queued requests (at most `maxBatch` of them) in one call. */
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
      this.send(lane, batch);
    }
  };

  /** Decides `batch` in one call; then schedules whatever queued meanwhile, or frees the lane. */
  private send(lane: Lane, batch: Waiter[]): void {
    this.stats.calls++;
    this.stats.decisions += batch.length;
    // The batch run-length encoded (see gcraScript): interval, burst, then (increment, count) pairs.
    const args: number[] = [lane.interval, lane.burst];
    for (const waiter of batch) {
      const last = args.length - 2;
      if (last >= 2 && args[last] === waiter.increment) args[last + 1]!++;
      else args.push(waiter.increment, 1);
    }
    const answer = (reply: unknown) => {
      let decisions: RateLimitDecision[];
      try {
        decisions = replay(lane, batch, reply);
      } catch (error) {
        fail(error);
        return;
      }
      for (let i = 0; i < batch.length; i++) batch[i]!.done(undefined, decisions[i]);
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

  private next(lane: Lane): void {
    if (lane.queued.length > 0) {
      this.sendAtEndOfTurn(lane);
      return;
    }
    const lanes = this.lanes.get(lane.subject);
    const at = lanes ? lanes.indexOf(lane) : -1;
    if (lanes && at >= 0) lanes.splice(at, 1);
    if (lanes?.length === 0) this.lanes.delete(lane.subject);
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
    if (this.client.status === "end") return;
    try {
      await this.client.quit();
    } catch {
      // Not connected: nothing to say goodbye to.
      this.client.disconnect();
    }
  }
}

/**
 * Each request's decision from the script's reply: the script's steps again, here, with `gcraStep` (it returns only
 * where they began and ended, so a reply is three numbers whatever the batch's size), checked to end where Redis
 * ended.
 */
export function replay(
  lane: { interval: number; burst: number },
  batch: readonly { increment: number }[],
  reply: unknown,
): RateLimitDecision[] {
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
  if (state.tat !== end) {
    throw new Error(`rate limiter: the script and gcraStep disagree (${end} in redis, ${state.tat} here)`);
  }
  return decisions;
}
