import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTenant } from "../../src/domain/tenants/store.ts";
import { generateWebhookSecret } from "../../src/domain/webhooks/secrets.ts";
import { createSubscription } from "../../src/domain/webhooks/subscriptions.ts";
import { orderBody, testKeyring, testSealingKey } from "../support/app.ts";
import { openTestDb, type TestDb } from "../support/db.ts";
import { type ServerProcess, startServerProcess } from "../support/server-process.ts";

/** Collects what a raw socket receives, so a test can wait for a given piece of the HTTP exchange. */
function reader(socket: Socket) {
  let received = "";
  let closed = false;
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const listener of listeners) listener();
  };
  socket.on("data", (chunk: Buffer) => {
    received += chunk.toString("utf8");
    notify();
  });
  socket.on("close", () => {
    closed = true;
    notify();
  });
  const until = (test: () => boolean, what: string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (test()) {
          listeners.delete(check);
          resolve();
        } else if (closed) {
          listeners.delete(check);
          reject(new Error(`socket closed before ${what}; received: ${received}`));
        }
      };
      listeners.add(check);
      check();
    });
  return {
    text: () => received,
    isClosed: () => closed,
    until,
    /** Waits for a complete response with a Content-Length body after `offset` in the stream. */
    async response(offset = 0): Promise<{ status: number; headers: string; body: string }> {
      const parse = () => {
        const rest = received.slice(offset);
        const end = rest.indexOf("\r\n\r\n");
        if (end < 0) return null;
        const head = rest.slice(0, end);
        const length = Number(/content-length:\s*(\d+)/i.exec(head)?.[1] ?? "0");
        const body = rest.slice(end + 4);
        if (Buffer.byteLength(body) < length) return null;
        return { status: Number(head.split(" ")[1]), headers: head, body };
      };
      await until(() => parse() !== null, "a complete response");
      return parse()!;
    },
    closedPromise: () => until(() => closed, "close"),
  };
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => resolve(socket));
    socket.once("error", reject);
  });
}

describe("graceful shutdown of the Node server (real child process)", () => {
  let testDb: TestDb;
  let server: ServerProcess | undefined;
  let apiKey: string;
  let tenantId: string;

  beforeAll(async () => {
    testDb = await openTestDb("postgres");
    const created = await createTenant(testDb.db, { name: "Shutdown", mode: "test" });
    apiKey = created.apiKey;
    tenantId = created.tenant.id;
  });
  afterAll(async () => {
    server?.kill();
    await testDb?.close();
  });

  it("on SIGTERM refuses new connections, finishes the request in flight, closes idle ones and exits 0", async () => {
    server = await startServerProcess({ DATABASE_URL: testDb.url!, SHUTDOWN_TIMEOUT_MS: "60000" });
    const { port } = server;

    // An idle keep-alive connection: it must not hold the shutdown back.
    const idle = await open(port);
    const idleReader = reader(idle);
    idle.write("GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n");
    expect((await idleReader.response()).status).toBe(200);

    // A request in flight: headers sent, body not yet. "100 Continue" proves the app is already handling it.
    const body = JSON.stringify(orderBody({ external_id: "SHUTDOWN-1" }));
    const slow = await open(port);
    const slowReader = reader(slow);
    slow.write(
      [
        "POST /v1/orders/create HTTP/1.1",
        "Host: localhost",
        `Authorization: Bearer ${apiKey}`,
        "Content-Type: application/json",
        `Content-Length: ${Buffer.byteLength(body)}`,
        "Expect: 100-continue",
        "",
        "",
      ].join("\r\n"),
    );
    await slowReader.until(() => slowReader.text().includes("100 Continue"), "100 Continue");

    server.child.kill("SIGTERM");
    await server.waitForLog((line) => String(line.msg).startsWith("shutting down"), "shutting down");

    // No new connections once shutting down.
    await expect(open(port)).rejects.toMatchObject({ code: "ECONNREFUSED" });
    // The idle keep-alive connection is closed by the server.
    await idleReader.closedPromise();

    // The request in flight completes normally.
    const headerBytes = slowReader.text().length;
    slow.write(body);
    const response = await slowReader.response(headerBytes);
    expect(response.status).toBe(201);
    const order = JSON.parse(response.body) as { id: string; external_id: string };
    expect(order.external_id).toBe("SHUTDOWN-1");

    expect(await server.exited).toBe(0);
    const stopped = await server.waitForLog((line) => line.msg === "stopped", "stopped");
    expect(stopped.outcome).toBe("drained");
    // The order committed before the pools closed.
    const { rows } = await testDb.db.query("select id from orders where id = $1", [order.id]);
    expect(rows).toHaveLength(1);
    server = undefined;
  });

  it("cuts what is still running after SHUTDOWN_TIMEOUT_MS and exits 1, so the cut is visible", async () => {
    server = await startServerProcess({ DATABASE_URL: testDb.url!, SHUTDOWN_TIMEOUT_MS: "300" });
    const stuck = await open(server.port);
    const stuckReader = reader(stuck);
    stuck.write(
      "POST /v1/orders/create HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" +
        `Authorization: Bearer ${apiKey}\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n`,
    );
    await stuckReader.until(() => stuckReader.text().includes("100 Continue"), "100 Continue");
    // The body never comes: the request can only end by being cut.
    server.child.kill("SIGTERM");
    expect(await server.exited).toBe(1);
    await stuckReader.closedPromise();
    const stopped = await server.waitForLog((line) => line.msg === "stopped", "stopped");
    expect(stopped.outcome).toBe("timeout");
    server = undefined;
  });

  it("on SIGTERM lets a webhook attempt in flight finish and records it before exiting 0", async () => {
    // A receiver that holds every delivery until the test lets it answer.
    const held: ServerResponse[] = [];
    let arrived: () => void = () => {};
    const firstArrival = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    const receiver = createServer((request: IncomingMessage, response: ServerResponse) => {
      request.resume();
      request.on("end", () => {
        held.push(response);
        arrived();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const address = receiver.address();
    const receiverPort = typeof address === "object" && address ? address.port : 0;
    try {
      await createSubscription(
        testDb.db,
        testKeyring(),
        { tenantId, mode: "test" },
        {
          url: `http://127.0.0.1:${receiverPort}/hook`,
          events: ["ORDER_CREATED"],
          secret: generateWebhookSecret(),
        },
      );
      server = await startServerProcess({
        DATABASE_URL: testDb.url!,
        CONNECTOR_ENCRYPTION_KEY: testSealingKey,
        SHUTDOWN_TIMEOUT_MS: "60000",
        WEBHOOK_ALLOW_PRIVATE_URLS: "true",
      });
      const created = await fetch(`http://127.0.0.1:${server.port}/v1/orders/create`, {
        method: "POST",
        headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
        body: JSON.stringify(orderBody({ external_id: "SHUTDOWN-HOOK" })),
      });
      expect(created.status).toBe(201);
      const order = (await created.json()) as { id: string };
      // The in-process dispatcher has sent the ORDER_CREATED webhook; the receiver is holding it.
      await firstArrival;

      server.child.kill("SIGTERM");
      await server.waitForLog((line) => String(line.msg).startsWith("shutting down"), "shutting down");
      // Still running: it waits for the attempt's answer.
      expect(server.child.exitCode).toBeNull();
      for (const response of held) response.writeHead(204).end();

      expect(await server.exited).toBe(0);
      const { rows } = await testDb.db.query<{ status: string; attempts: number; last_status_code: number }>(
        `select d.status, d.attempts, d.last_status_code from webhook_deliveries d
           join events e on e.id = d.event_id
          where e.order_id = $1 and e.type = 'ORDER_CREATED'`,
        [order.id],
      );
      expect(rows).toEqual([{ status: "succeeded", attempts: 1, last_status_code: 204 }]);
      server = undefined;
    } finally {
      for (const response of held) if (!response.writableEnded) response.destroy();
      receiver.closeAllConnections();
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
    }
  });
});
