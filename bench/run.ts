import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { deleteRedisPrefix } from "./lib/ab.ts";
import {
  freePort,
  memoryOf,
  root,
  sampleMemory,
  startBaseline,
  startGateway,
  startReceiver,
} from "./lib/processes.ts";
import { createBenchDatabase, createBenchTenant, createTrackedOrders } from "./lib/setup.ts";
import {
  type HttpContext,
  referenceServers,
  scenarioCreateOrder,
  scenarioKeyedNoop,
  scenarioKeyedShare,
  scenarioReferenceServer,
  scenarioTracking,
} from "./scenarios/http.ts";
import { scenarioMemory } from "./scenarios/memory.ts";
import {
  benchSealingKey,
  type ProducerMode,
  producerModes,
  scenarioDispatcherThroughput,
  scenarioWebhookLatency,
  subscribeReceiver,
} from "./scenarios/webhooks.ts";

/**
 * `npm run bench [-- --quick] [--scenarios 1,2,3] [--profile]`: the performance benchmarks of issue 9 against
 * the machine's real PostgreSQL and Redis, never part of the tests. Method and figures: BENCHMARKS.md. Scenario 4
 * takes `--producer one-statement|three-trips` (how its load generator commits each event, see ProducerMode),
 * `--webhook-rates 200,1000`, `--webhook-seconds N` (60, 10 with `--quick`) and `--webhook-warmup N` (seconds at each
 * rate before its run, reported apart: 5, 1 with `--quick`, 0 for none). `--gateway-env NAME=value` (repeatable)
 * adds a setting to the gateway's environment, e.g. a dispatcher setting to compare.
 *
 * Each HTTP scenario alternates runs with a bare node:http server measured by the same load generator in the same
 * run, and reports medians and the ratio to that baseline. The whole run is bounded (a watchdog ends it at 28 min;
 * the full run takes about 15 min, `--quick` about 3).
 */

interface Options {
  quick: boolean;
  scenarios: Set<number>;
  runs: number;
  durationS: number;
  warmupS: number;
  connections: number;
  webhookS: number;
  deliveries: number;
  throughputRuns: number;
  soakS: number;
  soakRate: number;
  profile: boolean;
  /** DATABASE_POOL_MAX of the gateway (the service default is 10). */
  pool: number;
  /** Another checkout (e.g. a worktree of an earlier commit) whose gateway and migrations to measure. */
  gatewayRoot: string;
  /** Names the results file: bench/results/<full|quick>-<label>.json. */
  label: string;
  /** Scenario 4's producer (`--producer one-statement|three-trips`). */
  producer: ProducerMode;
  /** Scenario 4's warm-up at each rate before its run, seconds (`--webhook-warmup`, 0: none). */
  webhookWarmupS: number;
  /** Scenario 4's rates, events/s (`--webhook-rates 200,1000`). */
  webhookRates: number[];
  /** Scenario 1's route (`--noop-path`): /v1/whoami, or an older checkout's stand-in for a before/after run. */
  noopPath: string;
  /** Settings added to the gateway's environment (`--gateway-env K=V`, repeatable): e.g. a dispatcher setting. */
  gatewayEnv: Record<string, string>;
}

function parseOptions(argv: string[]): Options {
  const flag = (name: string) => argv.includes(`--${name}`);
  const value = (name: string) => {
    const index = argv.indexOf(`--${name}`);
    if (index >= 0) return argv[index + 1];
    return argv.find((arg) => arg.startsWith(`--${name}=`))?.split("=")[1];
  };
  const quick = flag("quick");
  const numeric = (name: string, full: number, fast: number) => {
    const given = value(name);
    const parsed = given === undefined ? Number.NaN : Number(given);
    if (given !== undefined && !(parsed > 0)) throw new Error(`--${name} must be a positive number`);
    return given === undefined ? (quick ? fast : full) : parsed;
  };
  const label = value("label") ?? "latest";
  if (!/^[a-z0-9-]{1,40}$/.test(label)) throw new Error("--label: lowercase letters, digits and dashes");
  const scenarios = new Set((value("scenarios") ?? "1,2,3,4,5,6").split(",").map((s) => Number(s.trim())));
  for (const s of scenarios) if (!(s >= 1 && s <= 6)) throw new Error(`unknown scenario ${s} (1-6)`);
  const noopPath = value("noop-path") ?? "/v1/whoami";
  const producer = (value("producer") ?? "one-statement") as ProducerMode;
  if (!producerModes.includes(producer)) throw new Error(`--producer: ${producerModes.join(" or ")}`);
  const webhookRates = (value("webhook-rates") ?? "200,1000").split(",").map((r) => Number(r.trim()));
  if (!webhookRates.every((r) => r > 0))
    throw new Error("--webhook-rates: positive numbers, comma-separated");
  if (!noopPath.startsWith("/v1/")) throw new Error("--noop-path must be a keyed route under /v1/");
  const webhookWarmupS = Number(value("webhook-warmup") ?? (quick ? 1 : 5));
  if (!(webhookWarmupS >= 0)) throw new Error("--webhook-warmup: seconds, 0 for none");
  const gatewayEnv: Record<string, string> = {};
  argv.forEach((arg, index) => {
    const setting =
      arg === "--gateway-env"
        ? argv[index + 1]
        : arg.startsWith("--gateway-env=")
          ? arg.slice(14)
          : undefined;
    if (setting === undefined) return;
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(setting);
    if (!match) throw new Error("--gateway-env: NAME=value");
    gatewayEnv[match[1]!] = match[2]!;
  });
  return {
    gatewayEnv,
    webhookWarmupS,
    quick,
    noopPath,
    producer,
    webhookRates,
    scenarios,
    runs: numeric("runs", 5, 2),
    durationS: numeric("duration", 10, 3),
    warmupS: quick ? 1 : 3,
    connections: numeric("connections", 50, 50),
    webhookS: numeric("webhook-seconds", 60, 10),
    deliveries: numeric("deliveries", 30_000, 5_000),
    throughputRuns: numeric("throughput-runs", 2, 1),
    soakS: numeric("soak-seconds", 300, 30),
    soakRate: numeric("soak-rate", 1_500, 1_500),
    profile: flag("profile"),
    pool: numeric("pool", 10, 10),
    gatewayRoot: value("gateway-root") ?? root,
    label,
  };
}

const log = (line: string) => process.stderr.write(`${line}\n`);

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const adminUrl = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const redisUrl = process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379";
  const redisPrefix = `cellvi:bench:${process.pid}:`;
  const startedAt = new Date();
  const watchdog = setTimeout(
    () => {
      log("bench: 28 minutes elapsed, stopping (the run is bounded)");
      process.exit(2);
    },
    28 * 60 * 1000,
  );
  watchdog.unref();

  const machine = {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    node: process.version,
    loadAverageAtStart: loadavg().map((v) => Math.round(v * 100) / 100),
  };
  log(`bench: ${options.quick ? "quick" : "full"} run, scenarios ${[...options.scenarios].join(",")}`);
  log(
    `bench: ${machine.cpus} CPUs (${machine.cpuModel}), load average ${machine.loadAverageAtStart.join(" ")}`,
  );

  const database = await createBenchDatabase(adminUrl, options.gatewayRoot);
  const results: Record<string, unknown> = {};
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    const httpTenant = await createBenchTenant(database.db, "Bench HTTP");
    const webhookTenant = await createBenchTenant(database.db, "Bench Webhooks");
    const tracked = await createTrackedOrders(database.db, httpTenant, 50);

    const baseline = await startBaseline();
    cleanups.push(() => baseline.stop());
    const metricsPort = await freePort();
    const gatewayEnv = {
      DATABASE_URL: database.url,
      REDIS_URL: redisUrl,
      RATE_LIMIT_REDIS_PREFIX: redisPrefix,
      // The tracking limit is per client address and every request here comes from 127.0.0.1.
      TRACKING_RATE_LIMIT_PER_MINUTE: "1000000",
      WEBHOOK_ALLOW_PRIVATE_URLS: "true",
      CONNECTOR_ENCRYPTION_KEY: benchSealingKey,
      METRICS_PORT: String(metricsPort),
      DATABASE_POOL_MAX: String(options.pool),
      ...options.gatewayEnv,
    };
    const profileDir = join(root, "bench", "profiles");
    if (options.profile) mkdirSync(profileDir, { recursive: true });
    const gateway = await startGateway(
      gatewayEnv,
      options.profile ? ["--cpu-prof", "--cpu-prof-dir", profileDir] : [],
      options.gatewayRoot,
    );
    let gatewayStopped = false;
    cleanups.push(async () => {
      if (!gatewayStopped) await gateway.stop();
    });
    const gatewayPid = gateway.child.pid!;
    // Right after it first answers /readyz: what the process costs before any load.
    const idleRssMiB = Math.round(memoryOf(gatewayPid).rssMiB * 10) / 10;
    log(`gateway idle RSS after start: ${idleRssMiB} MiB`);
    const memory = sampleMemory(gatewayPid, 500);
    const gatewayUrl = `http://127.0.0.1:${gateway.port}`;
    const http: HttpContext = {
      gatewayUrl,
      gatewayPid,
      baselineUrl: `http://127.0.0.1:${baseline.port}`,
      baselinePid: baseline.child.pid!,
      tenant: httpTenant,
      tracked,
      runs: options.runs,
      durationS: options.durationS,
      warmupS: options.warmupS,
      connections: options.connections,
      noopPath: options.noopPath,
      log,
    };

    if (options.scenarios.has(1)) {
      log("scenario 1: keyed, rate-limited no-op (key cache + Redis limiter + log, no database)");
      results.keyedNoop = await scenarioKeyedNoop(http);
      for (const reference of referenceServers) {
        log(`scenario 1, reference: ${reference.title}`);
        const server = await startBaseline(reference.script);
        try {
          results[reference.key] = await scenarioReferenceServer(
            http,
            { url: `http://127.0.0.1:${server.port}`, pid: server.child.pid! },
            reference,
          );
        } finally {
          await server.stop();
        }
      }
      log(
        "scenario 1, reference: the keyed no-op against the gateway's unkeyed GET /healthz (baseline = /healthz)",
      );
      results.keyedShare = await scenarioKeyedShare(http);
    }
    if (options.scenarios.has(2)) {
      log("scenario 2: GET /v1/tracking/{n}");
      results.tracking = await scenarioTracking(http);
    }
    if (options.scenarios.has(3)) {
      log("scenario 3: POST /v1/orders/create with an Idempotency-Key");
      results.createOrder = await scenarioCreateOrder(http);
    }
    if (options.scenarios.has(6)) {
      log(`scenario 6: memory soak, ${options.soakS} s at ${options.soakRate} req/s`);
      results.memory = await scenarioMemory({
        gatewayUrl,
        gatewayPid,
        metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
        tenant: httpTenant,
        tracked,
        noopPath: options.noopPath,
        durationS: options.soakS,
        ratePerSecond: options.soakRate,
        log,
      });
    }
    const receiver = options.scenarios.has(4) || options.scenarios.has(5) ? await startReceiver() : undefined;
    if (receiver) {
      cleanups.push(() => receiver.stop());
      await subscribeReceiver(gatewayUrl, webhookTenant, receiver.port);
    }
    if (receiver && options.scenarios.has(4)) {
      const latency = [];
      for (const rate of options.webhookRates) {
        log(
          `scenario 4: webhook latency at ${rate} events/s for ${options.webhookS} s (producer: ${options.producer})`,
        );
        const result = await scenarioWebhookLatency({
          databaseUrl: database.url,
          tenant: webhookTenant,
          receiver,
          ratePerSecond: rate,
          durationS: options.webhookS,
          gatewayPid,
          producer: options.producer,
          warmupS: options.webhookWarmupS,
          log,
        });
        if (result.warmup)
          log(
            `  warm-up before it (${result.warmup.seconds} s at the rate, not in the figures): ${result.warmup.events} events, p50 ${result.warmup.p50} ms, p99 ${result.warmup.p99} ms, max ${result.warmup.max} ms, ${result.warmup.received} received`,
          );
        log(
          `  ${result.produced} events (${result.achievedRate}/s): p50 ${result.p50} ms, p99 ${result.p99} ms, max ${result.max} ms, lost ${result.lost}, duplicates ${result.duplicates}, commit ${result.commitRoundTripP50} ms, gateway CPU ${result.gatewayCpuMicrosPerDelivery} µs/delivery, its database backends ${result.databaseCpuMicrosPerDelivery} µs/delivery, receiver ${result.receiverCpuMicrosPerDelivery} µs/delivery; producer: driver ${result.producerCpuMicrosPerEvent.driver} µs/event, its backends ${result.producerCpuMicrosPerEvent.backends} µs/event`,
        );
        const worst = [...result.timeline].sort((a, b) => b.max - a.max).slice(0, 5);
        log(
          `  its worst seconds: ${worst.map((s) => `${s.second} s (${s.events} events, p99 ${s.p99} ms, max ${s.max}, commit p99 ${s.commitP99})`).join("; ")}`,
        );
        latency.push(result);
      }
      results.webhookLatency = latency;
    }
    const rss = memory.stop();
    const gatewayMemory = {
      peakRssMiB: Math.round(memoryOf(gatewayPid).peakMiB * 10) / 10,
      idleRssMiB,
      samples: rss.length,
    };
    results.gatewayMemory = gatewayMemory;
    log(`gateway peak RSS over every scenario it served: ${gatewayMemory.peakRssMiB} MiB`);
    const exitCode = await gateway.stop();
    gatewayStopped = true;
    results.gatewayGracefulExit = exitCode;
    if (receiver && options.scenarios.has(5)) {
      log(`scenario 5: dispatcher throughput, ${options.deliveries} deliveries, 1 then 2 worker processes`);
      results.dispatcherThroughput = await scenarioDispatcherThroughput({
        db: database.db,
        databaseUrl: database.url,
        tenant: webhookTenant,
        receiver,
        deliveries: options.deliveries,
        runs: options.throughputRuns,
        gatewayRoot: options.gatewayRoot,
        ...(options.profile ? { workerNodeFlags: ["--cpu-prof", "--cpu-prof-dir", profileDir] } : {}),
        log,
      });
    }
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: Error) => log(error.message));
    await database.drop().catch((error: Error) => log(`could not drop the bench database: ${error.message}`));
    await deleteRedisPrefix(redisUrl, redisPrefix).catch((error: Error) => log(error.message));
  }

  const report = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    mode: options.quick ? "quick" : "full",
    options: { ...options, scenarios: [...options.scenarios] },
    machine: { ...machine, loadAverageAtEnd: loadavg().map((v) => Math.round(v * 100) / 100) },
    results,
  };
  const dir = join(root, "bench", "results");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${options.quick ? "quick" : "full"}-${options.label}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  log(`bench: results in ${file}`);
  process.stdout.write(`${summarise(results)}\n`);
}

/** A plain-text table of the headline figures and whether each target is met. */
function summarise(results: Record<string, unknown>): string {
  const lines: string[] = [];
  const verdict = (met: boolean) => (met ? "met" : "NOT met");
  type Http = {
    baseline: { requestsPerSecond: number; cpuMicrosPerRequest: number | null };
    scenario: { requestsPerSecond: number; p50: number; p99: number; cpuMicrosPerRequest: number | null };
    ratio: number;
    unexpected: number;
    target: string;
    met: boolean;
  };
  const http = (name: string, value: unknown) => {
    if (!value) return;
    const r = value as Http;
    lines.push(
      `${name}: ${r.scenario.requestsPerSecond} req/s (baseline ${r.baseline.requestsPerSecond}, ratio ${r.ratio}), p50 ${r.scenario.p50} ms, p99 ${r.scenario.p99} ms, CPU ${r.scenario.cpuMicrosPerRequest} µs/req (baseline ${r.baseline.cpuMicrosPerRequest}), unexpected ${r.unexpected}; target ${r.target}: ${verdict(r.met)}`,
    );
  };
  http("1 keyed no-op", results.keyedNoop);
  http("1 reference: framework floor", results.frameworkFloor);
  http("1 reference: gateway shape without duties", results.gatewayShape);
  http("1 reference: keyed vs the gateway's /healthz", results.keyedShare);
  http("2 tracking", results.tracking);
  http("3 create order", results.createOrder);
  for (const r of (results.webhookLatency as
    | { ratePerSecond: number; p50: number; p99: number; lost: number; met: boolean; target: string }[]
    | undefined) ?? []) {
    lines.push(
      `4 webhook latency @${r.ratePerSecond}/s: p50 ${r.p50} ms, p99 ${r.p99} ms, lost ${r.lost}; target ${r.target}: ${verdict(r.met)}`,
    );
  }
  const t = results.dispatcherThroughput as
    | { oneWorker: number; twoWorkers: number; scaling: number; met: boolean; target: string }
    | undefined;
  if (t) {
    lines.push(
      `5 dispatcher: ${t.oneWorker} deliveries/s with 1 worker, ${t.twoWorkers} with 2 (x${t.scaling}); target ${t.target}: ${verdict(t.met)}`,
    );
  }
  const m = results.memory as
    | {
        peakRssMiB: number;
        soak: { rssEarlyMiB: number; rssLateMiB: number; rssSlopeMiBPerMinute: number };
        met: boolean;
        target: string;
      }
    | undefined;
  if (m) {
    lines.push(
      `6 memory: peak RSS ${m.peakRssMiB} MiB; soak RSS ${m.soak.rssEarlyMiB} -> ${m.soak.rssLateMiB} MiB (${m.soak.rssSlopeMiBPerMinute} MiB/min); target ${m.target}: ${verdict(m.met)}`,
    );
  }
  return lines.join("\n");
}

main().catch((error: unknown) => {
  log(`bench failed: ${(error as Error).stack ?? String(error)}`);
  process.exit(1);
});
