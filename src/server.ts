import { serve } from "@hono/node-server";
import { createApp } from "./app.ts";
import { buildServices, createLogger } from "./bootstrap.ts";
import { ConfigError, loadConfig } from "./config.ts";
import { pruneIdempotencyKeys } from "./domain/idempotency/run.ts";
import { mountLocalChannel } from "./local/admin-channel.ts";
import { acquireDataDirLock } from "./local/data-dir-lock.ts";

/**
 * The Node.js entry (`npm start`): configuration, database (embedded by default), migrations, the HTTP app, and the
 * background work that belongs to the process. Runtime specifics live here, not in the app.
 */
async function start(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(1);
  }
  const logger = createLogger(config);
  const embedded = !config.DATABASE_URL;
  const releaseLock = embedded ? acquireDataDirLock(config.DATA_DIR) : () => {};
  const built = await buildServices(config, { logger });
  const { services } = built;
  const app = createApp(services);
  const localChannel = embedded ? mountLocalChannel(app, services) : null;

  const server = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST });
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", reject);
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.PORT;
  const closeChannel = localChannel ? localChannel.publish(config.DATA_DIR, port) : () => {};
  logger.info(
    { port, database: services.db.kind, data_dir: embedded ? config.DATA_DIR : undefined },
    `cellvi-connect listening on http://localhost:${port} (developer portal: ${config.publicBaseUrl}/developers)`,
  );

  const prune = setInterval(
    () => {
      pruneIdempotencyKeys(services.db).catch((error) =>
        logger.warn({ err: error }, "idempotency prune failed"),
      );
    },
    60 * 60 * 1000,
  );
  prune.unref();

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down: no new connections, draining in-flight requests");
    clearInterval(prune);
    closeChannel();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await built.close();
    releaseLock();
    logger.info("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

start().catch((error: unknown) => {
  if (error instanceof ConfigError) process.stderr.write(`${error.message}\n`);
  else createLogger(loadConfig({})).fatal({ err: error }, "failed to start");
  process.exit(1);
});
