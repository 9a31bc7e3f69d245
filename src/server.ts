import type { Server } from "node:http";
import { serve } from "@hono/node-server";
import { createApp } from "./app.ts";
import { buildServices, createLogger } from "./bootstrap.ts";
import { ConfigError, loadConfig } from "./config.ts";
import { missingKeyWarning } from "./domain/connectors/secret-box.ts";
import { startConnectorWorker } from "./domain/connectors/worker.ts";
import { housekeep } from "./domain/retention.ts";
import { startDispatcher } from "./domain/webhooks/dispatcher.ts";
import { sealWebhookSecrets } from "./domain/webhooks/sealed-secrets.ts";
import { nodeServerOptions } from "./http/node-response.ts";
import { applyHttpTimeouts } from "./http/server-timeouts.ts";
import { mountLocalChannel } from "./local/admin-channel.ts";
import { acquireDataDirLock } from "./local/data-dir-lock.ts";
import { type MetricsServer, startMetricsServer } from "./observability/metrics-server.ts";

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

  const server = serve({
    fetch: app.fetch,
    port: config.PORT,
    hostname: config.HOST,
    // Envelope headers written with the response's own in one writeHead (src/http/node-response.ts).
    serverOptions: nodeServerOptions,
  });
  applyHttpTimeouts(server as Server, config.HTTP_IDLE_TIMEOUT_MS);
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", reject);
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.PORT;
  const closeChannel = localChannel ? localChannel.publish(config.DATA_DIR, port) : () => {};
  let metricsServer: MetricsServer | undefined;
  if (config.METRICS_PORT !== undefined) {
    metricsServer = await startMetricsServer(services.metrics, {
      port: config.METRICS_PORT,
      host: config.METRICS_HOST,
      logger,
    });
    logger.info({ port: metricsServer.port, host: config.METRICS_HOST }, "metrics listener started");
  }
  // The in-process webhook dispatcher (RUN_WORKER=false turns it off when separate `cli worker` processes deliver).
  const dispatcher = config.RUN_WORKER === false ? undefined : await startDispatcher(services);
  // Connector jobs (VTEX order fetches, the Magento poller) run with it, under the same switch
  // (`cli connectors worker` runs them on their own).
  const connectorWorker = config.RUN_WORKER === false ? undefined : await startConnectorWorker(services);
  // On the embedded database this also creates DATA_DIR/connector-encryption.key on the first start.
  const keyWarning = missingKeyWarning(config, services.db.kind);
  if (keyWarning) logger.warn(keyWarning);
  // Signing secrets written before they were sealed (or sealed with a previous key) are sealed now, not only at the
  // first hourly housekeeping: in the background, the service answers meanwhile (a plain secret still signs).
  void sealWebhookSecrets(services);
  logger.info(
    { port, database: services.db.kind, data_dir: embedded ? config.DATA_DIR : undefined },
    `cellvi-connect listening on http://localhost:${port} (developer portal: ${config.publicBaseUrl}/developers)`,
  );

  const prune = setInterval(() => void housekeep(services), 60 * 60 * 1000);
  prune.unref();

  let stopping = false;
  /**
   * Graceful stop (SIGTERM from the orchestrator, Ctrl-C): the listening socket closes at once (new connections are
   * refused, so a load balancer moves on) and the webhook dispatcher claims nothing more; requests already received
   * and webhook attempts already started run to their end, then the pools close and the process exits 0. If
   * draining takes longer than SHUTDOWN_TIMEOUT_MS the remaining connections are cut and the exit code is 1, so the
   * cut is visible. A second signal stops waiting.
   */
  const stop = async (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, "second signal: exiting without waiting for in-flight work");
      process.exit(1);
    }
    stopping = true;
    const http = server as Server;
    // Closing the listening socket comes first, so that once the line below is written it is true.
    const drained = new Promise<void>((resolve) => http.close(() => resolve()));
    logger.info(
      { signal, timeout_ms: config.SHUTDOWN_TIMEOUT_MS },
      "shutting down: no new connections, draining in-flight requests",
    );
    clearInterval(prune);
    closeChannel();
    // close() only closes connections idle at that moment; a keep-alive connection whose request finishes later
    // would hold it open until its idle timeout. Sweeping keeps the drain as short as the slowest request.
    const sweep = setInterval(() => http.closeIdleConnections(), 100);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), config.SHUTDOWN_TIMEOUT_MS);
    });
    // The dispatcher stops claiming at once; its attempts in flight finish and are recorded, under the same deadline.
    const deliveriesDrained = dispatcher?.stop() ?? Promise.resolve();
    const outcome = await Promise.race([
      Promise.all([drained, deliveriesDrained]).then(() => "drained" as const),
      deadline,
    ]);
    clearTimeout(timer);
    clearInterval(sweep);
    if (outcome === "timeout") {
      logger.warn("shutdown timeout: closing the connections still open");
      http.closeAllConnections();
    }
    await connectorWorker?.stop();
    await metricsServer?.close();
    await built.close();
    releaseLock();
    logger.info({ outcome }, "stopped");
    process.exit(outcome === "drained" ? 0 : 1);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

start().catch((error: unknown) => {
  if (error instanceof ConfigError) process.stderr.write(`${error.message}\n`);
  else createLogger(loadConfig({})).fatal({ err: error }, "failed to start");
  process.exit(1);
});
