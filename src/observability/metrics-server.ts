import { createServer, type Server } from "node:http";
import type { Logger } from "pino";
import type { Metrics } from "./metrics.ts";

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/**
 * A listener that serves only `GET /metrics`, for METRICS_PORT: the usual Prometheus setup, where the scrape port
 * is reachable only from the private network (METRICS_HOST, 127.0.0.1 by default) and needs no token. The API
 * server and the webhook worker both start one, so a worker process can be scraped too.
 */
export async function startMetricsServer(
  metrics: Metrics,
  options: { port: number; host: string; logger: Logger },
): Promise<MetricsServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    if (path !== "/metrics" || (request.method !== "GET" && request.method !== "HEAD")) {
      response
        .writeHead(404, { "content-type": "text/plain; charset=utf-8" })
        .end("Only GET /metrics here.\n");
      return;
    }
    metrics.render().then(
      (text) => {
        response.writeHead(200, { "content-type": metrics.contentType, "cache-control": "no-store" });
        response.end(request.method === "HEAD" ? undefined : text);
      },
      (error: unknown) => {
        options.logger.error({ err: error }, "metrics render failed");
        response.writeHead(500, { "content-type": "text/plain; charset=utf-8" }).end("metrics failed\n");
      },
    );
  });
  // Scrapers keep connections open between scrapes; they must not hold a shutdown back.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
