import { createServer } from "node:http";

/**
 * A fast webhook receiver for the webhook benchmarks, in its own process so it competes with nothing of the
 * driver's. It notes the moment each delivery's request head reaches it (`process.hrtime`: CLOCK_MONOTONIC, the
 * same clock in every process of the machine, so it compares with the producer's commit times), answers 204 at
 * once, and reports to the parent over IPC.
 *
 * Usage: node --import tsx bench/webhook-receiver.ts   (as a child with an IPC channel)
 */
interface Arrival {
  orderId: string;
  webhookId: string;
  /** Microseconds on the monotonic clock. */
  at: number;
}

const arrivals: Arrival[] = [];
let requests = 0;

const server = createServer((request, response) => {
  const at = Number(process.hrtime.bigint() / 1000n);
  requests++;
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", () => {
    response.writeHead(204).end();
    let orderId = "";
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { data?: { order_id?: string } };
      orderId = body.data?.order_id ?? "";
    } catch {
      orderId = "";
    }
    arrivals.push({ orderId, webhookId: String(request.headers["webhook-id"] ?? ""), at });
  });
});
server.keepAliveTimeout = 60_000;

process.on("message", (message: { type: string }) => {
  if (message.type === "report") {
    process.send?.({ type: "report", requests, arrivals });
  } else if (message.type === "count") {
    process.send?.({ type: "count", requests, arrivals: arrivals.length });
  } else if (message.type === "reset") {
    arrivals.length = 0;
    requests = 0;
    process.send?.({ type: "reset" });
  } else if (message.type === "stop") {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  }
});

server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  process.send?.({ type: "ready", port: typeof address === "object" && address ? address.port : 0 });
});
