import pg from "pg";
import { clientQueryable } from "../../src/adapters/db/postgres.ts";
import type { Db, Queryable } from "../../src/adapters/db/types.ts";
import { insertOrder } from "../../src/domain/orders/store.ts";
import { median, percentile, round } from "../lib/load.ts";
import {
  cpuSecondsOf,
  type Managed,
  type Receiver,
  sleep,
  startWorker,
  waitUntil,
} from "../lib/processes.ts";
import { type BenchTenant, orderInput } from "../lib/setup.ts";

/**
 * Seals the webhook signing secrets of the bench database (required with DATABASE_URL): the gateway that subscribes
 * and the workers that sign need the same key. Bench-only; a checkout from before sealing ignores it.
 */
export const benchSealingKey = Buffer.alloc(32, 11).toString("base64");

const nowMicros = () => Number(process.hrtime.bigint() / 1000n);

/**
 * How scenario 4's producer commits each event (`--producer`). Both give every event a transaction of its own and
 * take its timestamp once the commit is acknowledged.
 * - `one-statement` (the default since session 9): `insertOrder`'s statement alone, as its own implicit
 *   transaction, one round trip, as a named prepared statement: what `POST /v1/orders/create` without an
 *   Idempotency-Key sends through the gateway's pool. node-postgres resolves a query at ReadyForQuery, which
 *   PostgreSQL sends after the Sync that commits the implicit transaction, so the acknowledgement is the commit's.
 * - `three-trips` (sessions 3 to 8): `begin`, the statement (unnamed), `commit` on one pooled connection.
 */
export type ProducerMode = "one-statement" | "three-trips";
export const producerModes: readonly ProducerMode[] = ["one-statement", "three-trips"];

/**
 * A connection as a Queryable whose parameterised statements are named (prepared once per connection), as the
 * gateway's pool does. `names` is shared by the producer's connections: node-postgres prepares a name on each
 * connection the first time that connection runs it.
 */
function namedStatementQueryable(client: pg.PoolClient, names: Map<string, string>): Queryable {
  return {
    async query<Row>(text: string, params: readonly unknown[] = []) {
      let name = names.get(text);
      if (name === undefined) {
        name = `bench_producer_${names.size}`;
        names.set(text, name);
      }
      const result = await client.query({ name, text, values: params as unknown[] });
      return { rows: result.rows as Row[], rowCount: result.rowCount ?? result.rows.length };
    },
    async exec(text: string) {
      await client.query(text);
    },
  };
}

/** Subscribes the tenant to ORDER_CREATED at the receiver, through the API as a customer would. */
export async function subscribeReceiver(gatewayUrl: string, tenant: BenchTenant, receiverPort: number) {
  const response = await fetch(`${gatewayUrl}/v1/webhooks/subscribe`, {
    method: "POST",
    headers: { authorization: `Bearer ${tenant.apiKey}`, "content-type": "application/json" },
    body: JSON.stringify({ url: `http://127.0.0.1:${receiverPort}/hook`, events: ["ORDER_CREATED"] }),
  });
  if (response.status !== 201)
    throw new Error(`subscribe failed: ${response.status} ${await response.text()}`);
}

export interface LatencyResult {
  ratePerSecond: number;
  durationS: number;
  produced: number;
  achievedRate: number;
  received: number;
  lost: number;
  duplicates: number;
  /** Event commit (COMMIT acknowledged to the producer) to the receiver reading the request head, ms. */
  p50: number;
  p99: number;
  max: number;
  /** How the producer committed each event. */
  producer: ProducerMode;
  /**
   * The producer's own commit round trip, for reading the figures: the event exists from some point inside it. With
   * `one-statement` it is the statement's whole round trip (the insert, its triggers and the commit).
   */
  commitRoundTripP50: number;
  /**
   * The unrecorded warm-up at the same rate just before the run (null: none): how a dispatcher that has not yet run at
   * this rate copes, kept apart from the run's figures.
   */
  warmup: {
    seconds: number;
    events: number;
    received: number;
    p50: number;
    p99: number;
    max: number;
  } | null;
  /**
   * The run second by second, by the moment each event committed: how many committed, the latency's p50, p99 and
   * max among them, and the producer's commit round trip's p99. It tells a tail spread over the run (the machine
   * short of CPU throughout) from one made in a few seconds (a stall).
   */
  timeline: Array<{
    second: number;
    events: number;
    p50: number;
    p99: number;
    max: number;
    commitP99: number;
  }>;
  /**
   * The load generator's cost per event committed, from the first event to the last commit: the driver process
   * (this one: pacing, the producer's pool and client, the backends' sampler) and the PostgreSQL backends of the
   * producer's connections (its statements, triggers and commits). Not part of the system under test's figures.
   */
  producerCpuMicrosPerEvent: { driver: number; backends: number | null };
  /**
   * The gateway's CPU time (user + system, /proc) from the first event to the last arrival, per delivery received:
   * in this scenario the gateway serves no requests, so this is its in-process dispatcher's cost per delivery
   * (claim, sign, send, outcome write). Null when the gateway's pid was not given.
   */
  gatewayCpuMicrosPerDelivery: number | null;
  /**
   * The CPU time of the PostgreSQL backends serving the gateway (its pool and listener: every client backend of the
   * benchmark database except the producer's), over the same span, per delivery received: the dispatcher's claims,
   * outcome writes and other queries. Sampled from /proc every 200 ms, so a connection's first moments may be
   * missed. Null when /proc could not be read.
   */
  databaseCpuMicrosPerDelivery: number | null;
  /** The receiver process's CPU over the same span, per delivery received (it parses and answers each). */
  receiverCpuMicrosPerDelivery: number | null;
  target: string;
  met: boolean;
}

/**
 * Scenario 4: events committed at a steady rate, each by its own transaction (an order and its CREATED history row,
 * whose trigger writes the event and its delivery and notifies the dispatcher), and the time until the receiver
 * sees the webhook. The producer is this process, paced on a schedule, over a pool of connections; the dispatcher
 * is the gateway's in-process one (the `npm start` default).
 */
export async function scenarioWebhookLatency(options: {
  databaseUrl: string;
  tenant: BenchTenant;
  receiver: Receiver;
  ratePerSecond: number;
  durationS: number;
  /** The gateway process, whose CPU time is read from /proc. */
  gatewayPid?: number;
  /** Default `one-statement`. */
  producer?: ProducerMode;
  /** Seconds at the rate before the run, reported apart (`warmup`), not in the figures; 0: none. */
  warmupS: number;
  log(line: string): void;
}): Promise<LatencyResult> {
  const { receiver, ratePerSecond, durationS } = options;
  const producer = options.producer ?? "one-statement";
  // 16 connections, at most 64 events in flight (sessions 3 to 8): a commit waiting for the CPU must not hold back
  // the schedule, and 16 backends are enough for 1,000 events/s at a few milliseconds per round trip.
  const poolMax = 16;
  const maxInflight = 64;
  const pool = new pg.Pool({
    connectionString: options.databaseUrl,
    max: poolMax,
    application_name: "bench-producer",
  });
  const statementNames = new Map<string, string>();
  const scope = { tenantId: options.tenant.tenantId, mode: "test" as const };
  const runId = Math.random().toString(36).slice(2, 8);
  // Every connection opened before the first event, so the backends' sampler sees each from its start.
  const warm = await Promise.all(Array.from({ length: poolMax }, () => pool.connect()));
  for (const client of warm) client.release();
  let failures = 0;

  /**
   * Commits event `index` on `client` as the producer mode says, and returns its order with the moment the timed
   * round trip began: the statement's own (one-statement) or the commit's (three-trips, after `begin` and the
   * statement).
   */
  const commitEvent =
    producer === "one-statement"
      ? async (client: pg.PoolClient, externalId: string) => {
          const before = nowMicros();
          const result = await insertOrder(
            namedStatementQueryable(client, statementNames),
            scope,
            orderInput(externalId),
          );
          return { result, before };
        }
      : async (client: pg.PoolClient, externalId: string) => {
          await client.query("begin");
          const result = await insertOrder(clientQueryable(client), scope, orderInput(externalId));
          const before = nowMicros();
          await client.query("commit");
          return { result, before };
        };

  /**
   * Commits `total` events at the rate, on a schedule, and returns when each committed (monotonic microseconds) and
   * its commit round trip (ms), by order id.
   */
  const producePhase = async (phase: string, total: number) => {
    const commits = new Map<string, { at: number; tripMs: number }>();
    let issued = 0;
    let inflight = 0;
    const produce = async (index: number) => {
      // The connection first, so the round trip timed is the statement's or the commit's alone.
      const client = await pool.connect();
      try {
        const { result, before } = await commitEvent(client, `${phase}-${runId}-${index}`);
        const after = nowMicros();
        if (result.kind === "created")
          commits.set(result.order.id, { at: after, tripMs: (after - before) / 1000 });
      } catch (error) {
        failures++;
        if (producer === "three-trips") await client.query("rollback").catch(() => {});
        if (failures < 5) options.log(`  producer error: ${(error as Error).message}`);
      } finally {
        client.release();
      }
    };
    const started = Date.now();
    const pending = new Set<Promise<void>>();
    while (issued < total) {
      const due = Math.min(total, Math.floor(((Date.now() - started) / 1000) * ratePerSecond));
      while (issued < due && inflight < maxInflight) {
        inflight++;
        const job = produce(issued++).finally(() => {
          inflight--;
          pending.delete(job);
        });
        pending.add(job);
      }
      // Until the next event is due (at least 1 ms): at 200/s every 5 ms, not every millisecond (sessions 3 to 8
      // woke every millisecond whatever the rate, about 0.15 s of the driver's CPU per second at 200/s).
      const nextDueMs = started + ((issued + 1) * 1000) / ratePerSecond - Date.now();
      await sleep(inflight < maxInflight ? Math.max(1, Math.ceil(nextDueMs)) : 1);
    }
    await Promise.all(pending);
    return { commits, elapsedS: (Date.now() - started) / 1000 };
  };

  /** The first arrival of each committed event at the receiver (monotonic microseconds), by order id. */
  const firstArrivals = async (commits: ReadonlyMap<string, unknown>) => {
    // Every committed event must arrive: wait for the stragglers (bounded), then compare.
    await waitUntil(
      async () => (await receiver.count()).arrivals >= commits.size,
      "every webhook to arrive",
      60_000,
      250,
    ).catch(() => {});
    const report = await receiver.report();
    const first = new Map<string, number>();
    let relevant = 0;
    for (const arrival of report.arrivals) {
      if (!commits.has(arrival.orderId)) continue;
      relevant++;
      const seen = first.get(arrival.orderId);
      if (seen === undefined || arrival.at < seen) first.set(arrival.orderId, arrival.at);
    }
    return { first, duplicates: relevant - first.size };
  };

  /** Each committed event that arrived, with its latency (ms) from its commit to its first arrival. */
  const arrivedLatencies = <Commit extends { at: number }>(
    commits: ReadonlyMap<string, Commit>,
    first: ReadonlyMap<string, number>,
  ) =>
    [...commits].flatMap(([orderId, commit]) => {
      const arrivedAt = first.get(orderId);
      return arrivedAt === undefined ? [] : [{ commit, latency: (arrivedAt - commit.at) / 1000 }];
    });

  // The warm-up: the rate for a few seconds, unrecorded in the figures but reported, as the HTTP scenarios warm each
  // server up before their runs. A gateway that has not yet run its dispatcher at this rate (its code not yet
  // optimised by V8) falls behind for a few seconds at 1,000 events/s on two vCPUs, and on a machine that busy the
  // backlog drains slowly (session 14: p99 0.25-0.5 s over the first 3-5 s of a cold run, then what a warm run shows).
  let warmup: LatencyResult["warmup"] = null;
  if (options.warmupS > 0) {
    await receiver.reset();
    const phase = await producePhase("WARM", Math.round(ratePerSecond * options.warmupS));
    const { first } = await firstArrivals(phase.commits);
    const latencies = arrivedLatencies(phase.commits, first).map((arrival) => arrival.latency);
    warmup = {
      seconds: options.warmupS,
      events: phase.commits.size,
      received: first.size,
      p50: round(percentile(latencies, 50), 2),
      p99: round(percentile(latencies, 99), 2),
      max: round(Math.max(...latencies), 2),
    };
  }

  await receiver.reset();
  const backends = await sampleBackends(options.databaseUrl, "gateway");
  const producerBackends = await sampleBackends(options.databaseUrl, "producer");
  const cpuOf = (pid: number | undefined) => {
    try {
      return pid === undefined ? Number.NaN : cpuSecondsOf(pid);
    } catch {
      return Number.NaN;
    }
  };
  const gatewayCpuBefore = cpuOf(options.gatewayPid);
  const receiverCpuBefore = cpuOf(receiver.child.pid);
  const driverCpuBefore = process.cpuUsage();
  const failuresBefore = failures;
  const { commits, elapsedS } = await producePhase("LAT", Math.round(ratePerSecond * durationS));
  const driverCpu = process.cpuUsage(driverCpuBefore);
  const producerCpu = await producerBackends.stop();
  await pool.end();
  const { first: firstArrival, duplicates } = await firstArrivals(commits);
  const gatewayCpu = cpuOf(options.gatewayPid) - gatewayCpuBefore;
  const receiverCpu = cpuOf(receiver.child.pid) - receiverCpuBefore;
  const databaseCpu = await backends.stop();
  const perEvent = (seconds: number) =>
    Number.isFinite(seconds) && commits.size > 0 ? round((seconds * 1e6) / commits.size, 0) : null;
  const latencies: number[] = [];
  const firstCommit = Math.min(...[...commits.values()].map((commit) => commit.at));
  const seconds: Array<{ latencies: number[]; trips: number[] }> = [];
  for (const { commit, latency } of arrivedLatencies(commits, firstArrival)) {
    latencies.push(latency);
    const second = Math.floor((commit.at - firstCommit) / 1e6);
    seconds[second] ??= { latencies: [], trips: [] };
    seconds[second].latencies.push(latency);
    seconds[second].trips.push(commit.tripMs);
  }
  const timeline = seconds.flatMap((bucket, second) =>
    bucket === undefined
      ? []
      : [
          {
            second,
            events: bucket.latencies.length,
            p50: round(percentile(bucket.latencies, 50), 2),
            p99: round(percentile(bucket.latencies, 99), 2),
            max: round(Math.max(...bucket.latencies), 2),
            commitP99: round(percentile(bucket.trips, 99), 2),
          },
        ],
  );
  const lost = commits.size - firstArrival.size;
  const failed = failures - failuresBefore;
  const p50 = round(percentile(latencies, 50), 2);
  const p99 = round(percentile(latencies, 99), 2);
  return {
    ratePerSecond,
    durationS,
    produced: commits.size,
    achievedRate: round(commits.size / elapsedS, 0),
    received: firstArrival.size,
    lost,
    duplicates,
    p50,
    p99,
    max: round(Math.max(...latencies), 2),
    producer,
    commitRoundTripP50: round(median([...commits.values()].map((commit) => commit.tripMs)), 2),
    warmup,
    timeline,
    producerCpuMicrosPerEvent: {
      driver: perEvent((driverCpu.user + driverCpu.system) / 1e6) ?? 0,
      backends: perEvent(producerCpu),
    },
    gatewayCpuMicrosPerDelivery:
      Number.isFinite(gatewayCpu) && firstArrival.size > 0
        ? round((gatewayCpu * 1e6) / firstArrival.size, 0)
        : null,
    databaseCpuMicrosPerDelivery:
      Number.isFinite(databaseCpu) && firstArrival.size > 0
        ? round((databaseCpu * 1e6) / firstArrival.size, 0)
        : null,
    receiverCpuMicrosPerDelivery:
      Number.isFinite(receiverCpu) && firstArrival.size > 0
        ? round((receiverCpu * 1e6) / firstArrival.size, 0)
        : null,
    target: "p50 < 10 ms, p99 < 50 ms, zero lost, at the rate asked for",
    // A rate the producer could not sustain was not measured: the latency at a lower rate proves nothing about it.
    met:
      p50 < 10 && p99 < 50 && lost === 0 && failed === 0 && commits.size / elapsedS >= 0.95 * ratePerSecond,
  };
}

/**
 * Follows the CPU time of the database backends that serve the gateway (every client backend of the benchmark
 * database except the producer's and the monitors') or those of the producer, from now until `stop`, which resolves
 * to the CPU seconds they used meanwhile (NaN if /proc could not be read).
 */
async function sampleBackends(
  databaseUrl: string,
  whose: "gateway" | "producer",
): Promise<{ stop(): Promise<number> }> {
  const monitor = new pg.Client({ connectionString: databaseUrl, application_name: "bench-monitor" });
  await monitor.connect();
  const first = new Map<number, number>();
  const last = new Map<number, number>();
  let readable = true;
  const sample = async () => {
    const { rows } = await monitor.query<{ pid: number }>(
      `select pid from pg_stat_activity
        where datname = current_database() and backend_type = 'client backend'
          and ${whose === "producer" ? "application_name = 'bench-producer'" : "application_name not in ('bench-producer', 'bench-monitor')"}`,
    );
    for (const { pid } of rows) {
      try {
        const cpu = cpuSecondsOf(pid);
        if (!first.has(pid)) first.set(pid, cpu);
        last.set(pid, cpu);
      } catch {
        readable = false;
      }
    }
  };
  await sample();
  let sampling = Promise.resolve();
  const timer = setInterval(() => {
    sampling = sampling.then(sample).catch(() => {});
  }, 200);
  return {
    async stop() {
      clearInterval(timer);
      await sampling;
      await sample().catch(() => {});
      await monitor.end().catch(() => {});
      if (!readable) return Number.NaN;
      let total = 0;
      for (const [pid, end] of last) total += end - (first.get(pid) ?? end);
      return total;
    },
  };
}

/**
 * CPU seconds so far of every client backend of the monitor's database except the monitor's own, by pid (a backend
 * whose /proc entry cannot be read is left out).
 */
async function backendCpuSnapshot(monitor: pg.Client): Promise<Map<number, number>> {
  const { rows } = await monitor.query<{ pid: number }>(
    `select pid from pg_stat_activity
      where datname = current_database() and backend_type = 'client backend' and pid <> pg_backend_pid()`,
  );
  const cpu = new Map<number, number>();
  for (const { pid } of rows) {
    try {
      cpu.set(pid, cpuSecondsOf(pid));
    } catch {
      // Gone meanwhile.
    }
  }
  return cpu;
}

/** Writes `count` ORDER_CREATED events for the tenant in a few big statements (the triggers fan them out). */
async function prefillEvents(db: Db, tenant: BenchTenant, count: number, tag: string): Promise<void> {
  const chunk = 5_000;
  for (let done = 0; done < count; done += chunk) {
    const size = Math.min(chunk, count - done);
    await db.transaction(async (tx) => {
      await tx.query(
        `with created as (
           insert into orders (tenant_id, mode, external_id, tracking_number, tracking_token, recipient, destination,
                               packages)
           select $1, 'test', 'BULK-' || $2 || '-' || ($3::int + g), 'BK' || upper(substr(md5(random()::text), 1, 14)),
                  'trk_' || md5(random()::text), '{"name":"Ana Ruiz","phone":"+573001112233"}'::jsonb,
                  '{"address_line1":"Cra 7 # 71-21","city":"Bogotá","country":"CO"}'::jsonb,
                  '[{"weight_kg":1.2}]'::jsonb
             from generate_series(1, $4::int) g
           returning id, tenant_id, created_at
         )
         insert into order_status_history (order_id, tenant_id, status, description, actor, occurred_at)
         select id, tenant_id, 'CREATED', 'Order received', 'bench', created_at from created`,
        [tenant.tenantId, tag, done, size],
      );
    });
  }
}

export interface ThroughputRun {
  workers: number;
  deliveries: number;
  /** Deliveries per second seen by the receiver, first to last arrival. */
  perSecond: number;
  delivered: number;
  durationS: number;
  /**
   * The worker processes' CPU time (user + system, /proc) from the first arrival seen to the last, per delivery
   * that arrived meanwhile: claim, sign, send, outcome write, without the start-up. Null if /proc was unreadable.
   */
  workerCpuMicrosPerDelivery: number | null;
  /** The same for the PostgreSQL backends of the benchmark database (the workers' connections). */
  databaseCpuMicrosPerDelivery: number | null;
}

export interface ThroughputResult {
  runs: ThroughputRun[];
  oneWorker: number;
  twoWorkers: number;
  scaling: number;
  target: string;
  met: boolean;
}

/**
 * Scenario 5: a backlog of deliveries written while no dispatcher runs, then `workers` dispatcher processes
 * (`cli worker`) started on it; throughput is the receiver's arrival rate from the first to the last delivery
 * (worker start-up is not counted). The gateway is stopped meanwhile, so its in-process dispatcher takes no part.
 */
export async function scenarioDispatcherThroughput(options: {
  db: Db;
  databaseUrl: string;
  tenant: BenchTenant;
  receiver: Receiver;
  deliveries: number;
  runs: number;
  gatewayRoot?: string;
  /** Node flags for the worker processes (`--cpu-prof` with `--profile`). */
  workerNodeFlags?: string[];
  log(line: string): void;
}): Promise<ThroughputResult> {
  const runs: ThroughputRun[] = [];
  const monitor = new pg.Client({ connectionString: options.databaseUrl, application_name: "bench-monitor" });
  await monitor.connect();
  try {
    for (const workers of [1, 2]) {
      for (let run = 0; run < options.runs; run++) {
        await options.receiver.reset();
        const tag = `${workers}w${run}${Math.random().toString(36).slice(2, 6)}`;
        await prefillEvents(options.db, options.tenant, options.deliveries, tag);
        const started: Managed[] = [];
        for (let i = 0; i < workers; i++) {
          started.push(
            startWorker(
              {
                DATABASE_URL: options.databaseUrl,
                WEBHOOK_ALLOW_PRIVATE_URLS: "true",
                CONNECTOR_ENCRYPTION_KEY: benchSealingKey,
              },
              options.gatewayRoot,
              options.workerNodeFlags,
            ),
          );
        }
        const t0 = Date.now();
        const cpuNow = async () => ({
          arrivals: (await options.receiver.count()).arrivals,
          workers: started.reduce((sum, worker) => sum + cpuSecondsOf(worker.child.pid!), 0),
          backends: await backendCpuSnapshot(monitor),
        });
        // From the first arrival: the workers' start-up (tsx, migrations check, pool) is not a delivery's cost.
        await waitUntil(
          async () => (await options.receiver.count()).arrivals > 0,
          "the first delivery",
          60_000,
          20,
        ).catch(() => {});
        const first = await cpuNow().catch(() => null);
        await waitUntil(
          async () => (await options.receiver.count()).arrivals >= options.deliveries,
          "the backlog to drain",
          180_000,
          100,
        ).catch((error: Error) => options.log(`  ${error.message}`));
        const last = await cpuNow().catch(() => null);
        const waited = (Date.now() - t0) / 1000;
        const span = first && last ? last.arrivals - first.arrivals : 0;
        let backendSeconds = 0;
        for (const [pid, cpu] of last?.backends ?? [])
          backendSeconds += cpu - (first?.backends.get(pid) ?? 0);
        const perDelivery = (seconds: number) =>
          span > 0 && Number.isFinite(seconds) ? round((seconds * 1e6) / span, 0) : null;
        await Promise.all(started.map((worker) => worker.stop()));
        const report = await options.receiver.report();
        const times = report.arrivals.map((arrival) => arrival.at);
        const spanS = times.length > 1 ? (Math.max(...times) - Math.min(...times)) / 1_000_000 : Number.NaN;
        const unique = new Set(report.arrivals.map((arrival) => arrival.webhookId)).size;
        const result: ThroughputRun = {
          workers,
          deliveries: options.deliveries,
          perSecond: round(unique / spanS, 0),
          delivered: unique,
          durationS: round(waited, 1),
          workerCpuMicrosPerDelivery: first && last ? perDelivery(last.workers - first.workers) : null,
          databaseCpuMicrosPerDelivery: first && last ? perDelivery(backendSeconds) : null,
        };
        runs.push(result);
        options.log(
          `  ${workers} worker(s), run ${run + 1}: ${result.delivered}/${result.deliveries} delivered, ${result.perSecond} deliveries/s, worker CPU ${result.workerCpuMicrosPerDelivery} µs/delivery, database backends ${result.databaseCpuMicrosPerDelivery} µs/delivery`,
        );
      }
    }
  } finally {
    await monitor.end().catch(() => {});
  }
  const oneWorker = median(runs.filter((run) => run.workers === 1).map((run) => run.perSecond));
  const twoWorkers = median(runs.filter((run) => run.workers === 2).map((run) => run.perSecond));
  return {
    runs,
    oneWorker,
    twoWorkers,
    scaling: round(twoWorkers / oneWorker, 2),
    target: ">= 2,000 deliveries/s per worker process",
    met: oneWorker >= 2000 && runs.every((run) => run.delivered === run.deliveries),
  };
}
