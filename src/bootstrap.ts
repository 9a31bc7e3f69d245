import { type DestinationStream, type Logger, pino } from "pino";
import { migrate } from "./adapters/db/migrate.ts";
import { openDb } from "./adapters/db/open.ts";
import { createHttpWebhookSender } from "./adapters/sender/http.ts";
import type { Config } from "./config.ts";
import { blockedAddressReason } from "./domain/webhooks/url-guard.ts";
import { buildAuthServices } from "./http/auth-services.ts";
import { LineBatcher, type LineSink } from "./observability/line-batcher.ts";
import { createMetrics } from "./observability/metrics.ts";
import { readWebhookQueue } from "./observability/webhook-queue.ts";
import { type Services, systemClock } from "./services.ts";

/** Never let a secret reach a log line, whatever a caller passes to the logger. */
const redactPaths = [
  "apiKey",
  "api_key",
  "secret",
  "token",
  "authorization",
  "*.apiKey",
  "*.api_key",
  "*.secret",
  "*.token",
  "*.authorization",
  "headers.authorization",
  "headers['x-api-key']",
];

/**
 * JSON lines on stdout (or on `destination`, which tests use to read what would be logged).
 *
 * Lines are written in blocks of at least 32 KiB (at most 64 KiB per write), and at least every 200 ms: one write
 * per request line cost the busiest routes about 8 % of their CPU in the profile, and each write is a round trip
 * through libuv's thread pool (4 KiB blocks meant about a thousand of them a second at 20,000 requests/s; at 32 KiB
 * the keyed no-op spent 40.3 -> 38.4 µs of CPU per request in one alternating pair, and a line through the batcher
 * 1.34-1.44 -> 0.98-1.03 µs in process). Lines reach that buffer a block at a time (32 Ki characters, or what
 * 200 ms gathered), encoded to bytes once (`LineBatcher`). Everything buffered is written synchronously when the
 * process exits (pino registers that, and the batcher hands its lines over first), so only a SIGKILL can lose the
 * last fraction of a second of lines.
 */
export function createLogger(config: Config, destination?: DestinationStream): Logger {
  const options = {
    level: config.LOG_LEVEL,
    base: { service: "cellvi-connect" },
    redact: { paths: redactPaths, censor: "[redacted]" },
  };
  return pino(
    options,
    destination ??
      new LineBatcher(
        // In buffer mode sonic-boom's `write` takes a Buffer, which its typings (string only) do not say.
        pino.destination({
          dest: 1,
          sync: false,
          minLength: 32_768,
          maxWrite: 65_536,
          periodicFlush: 200,
          contentMode: "buffer",
        }) as unknown as LineSink,
      ),
  );
}

/** The real webhook sender, with the SSRF guard the configuration asks for on every connection it opens. */
export function createWebhookSender(config: Config) {
  const allowPrivate = config.WEBHOOK_ALLOW_PRIVATE_URLS;
  return createHttpWebhookSender({
    checkAddress: (address) => blockedAddressReason(address, { allowPrivate }),
    // The dispatcher bounds concurrency (per process and per endpoint); the agent must not queue requests behind
    // it, or an attempt could time out before it was even sent.
    maxSocketsPerHost: config.WEBHOOK_CONCURRENCY,
  });
}

export interface BuiltServices {
  services: Services;
  /** Releases everything `buildServices` opened, in reverse order. */
  close(): Promise<void>;
}

/**
 * Opens the database (embedded or real), applies pending migrations and assembles the services bag. The Node
 * server, the CLI and the worker all start here, so they run against the same wiring.
 */
export async function buildServices(
  config: Config,
  options: { logger?: Logger; migrate?: boolean } = {},
): Promise<BuiltServices> {
  const logger = options.logger ?? createLogger(config);
  const db = await openDb(config, (error) => logger.warn({ err: error }, "database connection error"));
  try {
    if (options.migrate !== false) {
      const result = await migrate(db);
      if (result.applied.length > 0) logger.info({ applied: result.applied }, "migrations applied");
    }
  } catch (error) {
    await db.close();
    throw error;
  }
  const clock = systemClock;
  const auth = await buildAuthServices(config, { db, logger, clock });
  const metrics = createMetrics({ processMetrics: true });
  metrics.setWebhookQueueProbe(() => readWebhookQueue(db));
  const services: Services = {
    config,
    db,
    logger,
    clock,
    metrics,
    rateLimiter: auth.rateLimiter,
    keyVerifier: auth.keyVerifier,
    webhookSender: createWebhookSender(config),
  };
  return {
    services,
    async close() {
      await services.webhookSender.close();
      await auth.close();
      await db.close();
    },
  };
}
