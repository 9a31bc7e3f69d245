import { startDispatcher } from "../domain/webhooks/dispatcher.ts";
import { webhookQueueStats } from "../domain/webhooks/queue.ts";
import { type MetricsServer, startMetricsServer } from "../observability/metrics-server.ts";
import type { CliCommand } from "./commands.ts";

const json = { json: { type: "boolean" } } as const;

/** The webhook dispatcher as its own process, and a look at its queue. */
export const webhookCommands: CliCommand[] = [
  {
    name: "worker",
    summary: "Run a webhook dispatcher until SIGTERM/SIGINT (any number may share one database)",
    usage: "worker [--json]",
    options: { ...json },
    // A loop that owns this process: never forwarded to a running service.
    localOnly: true,
    async run(services) {
      const { config, logger } = services;
      let metricsServer: MetricsServer | undefined;
      if (config.METRICS_PORT !== undefined) {
        metricsServer = await startMetricsServer(services.metrics, {
          port: config.METRICS_PORT,
          host: config.METRICS_HOST,
          logger,
        });
      }
      const dispatcher = await startDispatcher(services);
      process.stderr.write(
        `webhook worker ${process.pid} running on the ${services.db.kind} database; SIGTERM or Ctrl-C drains and stops it\n`,
      );
      const signal = await new Promise<string>((resolve) => {
        process.once("SIGTERM", () => resolve("SIGTERM"));
        process.once("SIGINT", () => resolve("SIGINT"));
      });
      // SIGTERM: no new claims; attempts in flight finish and are recorded; then exit.
      await dispatcher.stop();
      await metricsServer?.close();
      const counters = dispatcher.counters;
      return {
        json: { signal, ...counters },
        text: `Stopped on ${signal} after ${counters.claimed} attempts: ${counters.succeeded} succeeded, ${counters.retried} to retry, ${counters.failed} failed${counters.waiting > 0 ? `, ${counters.waiting} not sent (a signing secret cannot be opened: waiting for the key)` : ""}${counters.expired > 0 ? `, ${counters.expired} dropped unsent (their claims' leases ran out while they waited)` : ""}.`,
      };
    },
  },
  {
    name: "webhooks queue",
    summary: "Show the webhook delivery queue: pending, due now, in flight, oldest due age",
    usage: "webhooks queue [--json]",
    options: { ...json },
    async run(services) {
      const stats = await webhookQueueStats(services.db, services.clock.now());
      return {
        json: stats,
        text: [
          `pending:    ${stats.pending}`,
          `due now:    ${stats.due}`,
          `in flight:  ${stats.inFlight}`,
          `oldest due: ${(stats.oldestDueAgeMs / 1000).toFixed(1)} s ago`,
        ].join("\n"),
      };
    },
  },
];
