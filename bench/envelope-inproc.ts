import { IncomingMessage } from "node:http";
import { getHeapStatistics } from "node:v8";

/**
 * `npx tsx bench/envelope-inproc.ts ROOT [ROOT...] [/healthz|/v1/whoami] [--key] [--rounds 30] [--round-ms 300] > /dev/null`
 * (add `node --expose-gc --import tsx` for allocation figures): the CPU each checkout's app spends per request in
 * process, without sockets, all of them in one process, in alternating rounds (A B, B A, ...). Each ROOT's `createApp`
 * runs on a fresh PostgreSQL database (the in-memory limiter), behind @hono/node-server's request listener and the
 * Node server's response class, fed IncomingMessages built here (their rawHeaders as the parser leaves them). The
 * request log lines go to stdout (redirect it), the results to stderr. What it measures is the JavaScript of a request
 * (the envelope, Hono, the adapter, Node's header handling) without the system calls: per round and per request,
 * each side's CPU, and the median of each round's difference from the first ROOT. Also the bytes allocated per
 * request (heap growth over 128 requests after a forced collection). `--alloc-profile` then samples where each side's
 * requests allocate (V8's sampling heap profiler, counting objects already collected too) and lists the top sites.
 */

const isPath = (a: string) => a === "/healthz" || a.startsWith("/v1/");
const roots = process.argv
  .slice(2)
  .filter((a, i, all) => !a.startsWith("-") && !all[i - 1]?.startsWith("--") && !isPath(a));
if (roots.length === 0) throw new Error("ROOT: a checkout");
const path = process.argv.find(isPath) ?? "/healthz";
const keyed = process.argv.includes("--key");
const arg = (name: string, fallback: number) => {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
};
const roundMs = arg("round-ms", 300);
const rounds = arg("rounds", 30);
const concurrency = arg("concurrency", 16);
const { getRequestListener } = await import("@hono/node-server");

interface Side {
  root: string;
  one(): Promise<void>;
  status: number;
  close(): Promise<void>;
}

async function setUp(root: string): Promise<Side> {
  const { createApp } = await import(`${root}/src/app.ts`);
  const { loadConfig } = await import(`${root}/src/config.ts`);
  const { createLogger, createWebhookSender } = await import(`${root}/src/bootstrap.ts`);
  const { buildAuthServices } = await import(`${root}/src/http/auth-services.ts`);
  const { createMetrics } = await import(`${root}/src/observability/metrics.ts`);
  const { systemClock } = await import(`${root}/src/services.ts`);
  const { openTestDb } = await import(`${root}/test/support/db.ts`);
  const { createTenant } = await import(`${root}/src/domain/tenants/store.ts`);
  const { EnvelopeServerResponse } = await import(`${root}/src/http/node-response.ts`);
  const testDb = await openTestDb("postgres");
  const config = loadConfig({
    NODE_ENV: "production",
    LOG_LEVEL: "info",
    PORT: "3000",
    RATE_LIMIT_PER_MINUTE: "1000000",
    TRACKING_RATE_LIMIT_PER_MINUTE: "1000000",
  });
  const logger = createLogger(config);
  const auth = await buildAuthServices(config, { db: testDb.db, logger, clock: systemClock });
  const services = {
    config,
    db: testDb.db,
    logger,
    clock: systemClock,
    metrics: createMetrics({ processMetrics: true }),
    rateLimiter: auth.rateLimiter,
    keyVerifier: auth.keyVerifier,
    webhookSender: createWebhookSender(config),
  };
  const { key, apiKey } = await createTenant(testDb.db, { name: "inproc", mode: "test" });
  await testDb.db.query("update api_keys set rate_limit_per_minute = 1000000000 where id = $1", [key.id]);
  const app = createApp(services);
  const listener = getRequestListener(app.fetch) as (req: IncomingMessage, res: unknown) => Promise<void>;
  const socket = {
    remoteAddress: "127.0.0.1",
    remotePort: 50000,
    encrypted: false,
    readableHighWaterMark: 16384,
  };
  const rawHeaders = ["Host", "127.0.0.1:3000", "User-Agent", "autocannon", "Accept", "*/*"];
  if (keyed) rawHeaders.push("Authorization", `Bearer ${apiKey}`);
  const side: Side = {
    root,
    status: 0,
    one() {
      const req = new IncomingMessage(socket as never);
      req.method = "GET";
      req.url = path;
      req.httpVersion = "1.1";
      req.httpVersionMajor = 1;
      req.httpVersionMinor = 1;
      // What the parser does (parserOnHeadersComplete): the headers object is built from these on first read.
      (req as unknown as { _addHeaderLines(h: string[], n: number): void })._addHeaderLines(
        rawHeaders.slice(),
        rawHeaders.length,
      );
      req.complete = true;
      const res = new EnvelopeServerResponse(req);
      return listener(req, res).then(() => {
        side.status = res.statusCode;
      });
    },
    async close() {
      await services.webhookSender.close();
      await auth.close();
      await testDb.close();
    },
  };
  return side;
}

const sides: Side[] = [];
for (const root of roots) sides.push(await setUp(root));

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
async function batch(side: Side): Promise<void> {
  const pending: Promise<void>[] = [];
  for (let i = 0; i < concurrency; i++) pending.push(side.one());
  await Promise.all(pending);
  await turn();
}

async function runFor(side: Side, ms: number): Promise<number> {
  const cpu0 = process.cpuUsage();
  const end = performance.now() + ms;
  let n = 0;
  while (performance.now() < end) {
    await batch(side);
    n += concurrency;
  }
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / n;
}

for (const side of sides) await runFor(side, 2000);
const perSide: number[][] = sides.map(() => []);
for (let r = 0; r < rounds; r++) {
  const order = r % 2 === 0 ? sides.map((_, i) => i) : sides.map((_, i) => sides.length - 1 - i);
  for (const i of order) perSide[i]!.push(await runFor(sides[i]!, roundMs));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const gc = (globalThis as { gc?: () => void }).gc;
async function allocatedBy(side: Side): Promise<number | undefined> {
  if (!gc) return undefined;
  // Few enough requests that no scavenge runs in between (V8's young generation starts at 1 MiB after a full GC).
  const perSample = 8 * concurrency;
  const samples: number[] = [];
  for (let i = 0; i < 21; i++) {
    gc();
    const before = getHeapStatistics().used_heap_size;
    for (let j = 0; j < perSample / concurrency; j++) {
      const pending: Promise<void>[] = [];
      for (let k = 0; k < concurrency; k++) pending.push(side.one());
      await Promise.all(pending);
    }
    const after = getHeapStatistics().used_heap_size;
    if (after > before) samples.push((after - before) / perSample);
    await turn();
  }
  return samples.length ? median(samples) : undefined;
}

for (const [i, side] of sides.entries()) {
  const mine = perSide[i]!;
  const diffs = mine.map((v, r) => v - perSide[0]![r]!);
  process.stderr.write(
    `${JSON.stringify({
      root: side.root,
      path,
      status: side.status,
      cpu_us: median(mine).toFixed(2),
      min_us: Math.min(...mine).toFixed(2),
      vs_first_median_diff: median(diffs).toFixed(2),
      lower_rounds: diffs.filter((d) => d < 0).length,
      rounds: mine.length,
      bytes_per_request: (await allocatedBy(side))?.toFixed(0),
    })}\n`,
  );
}
if (process.argv.includes("--alloc-profile")) {
  for (const side of sides) await allocationSites(side);
}
for (const side of sides) await side.close();
process.exit(0);

interface SamplingNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SamplingNode[];
}

/** Where a side's requests allocate: bytes per request by allocating function, and by the app frame below it. */
async function allocationSites(side: Side): Promise<void> {
  const { Session } = await import("node:inspector/promises");
  const session = new Session();
  session.connect();
  const requests = 20_000;
  await session.post("HeapProfiler.startSampling", {
    samplingInterval: 256,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  for (let i = 0; i < requests / concurrency; i++) await batch(side);
  const { profile } = (await session.post("HeapProfiler.stopSampling")) as {
    profile: { head: SamplingNode };
  };
  session.disconnect();
  const bySite = new Map<string, number>();
  const where = (frame: SamplingNode["callFrame"]) =>
    `${frame.functionName || "(anonymous)"} ${frame.url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*\/(src|dist)\//, "$1/")}:${frame.lineNumber + 1}`;
  const walk = (node: SamplingNode, path: string[]) => {
    const here = [...path, where(node.callFrame)];
    if (node.selfSize > 0) {
      // The allocating function, and its caller (one frame up) for context.
      const key = here.slice(-2).reverse().join("  <-  ");
      bySite.set(key, (bySite.get(key) ?? 0) + node.selfSize);
    }
    for (const child of node.children) walk(child, here);
  };
  walk(profile.head, []);
  const total = [...bySite.values()].reduce((a, b) => a + b, 0);
  process.stderr.write(`${side.root}: ${(total / requests).toFixed(0)} bytes sampled per request\n`);
  for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, 40)) {
    process.stderr.write(`  ${(bytes / requests).toFixed(0).padStart(6)} B  ${site}\n`);
  }
}
