import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyHttpTimeouts } from "../../src/http/server-timeouts.ts";

/** A raw HTTP/1.1 exchange on its own socket, so the test decides when each byte of the body is sent. */
function rawRequest(port: number) {
  const socket = connect(port, "127.0.0.1");
  let answer = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    answer += chunk;
  });
  const closed = new Promise<string>((resolve) => socket.on("close", () => resolve(answer)));
  socket.on("error", () => {});
  return { socket, closed };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("the Node server's timeouts", () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    const app = new Hono();
    app.post("/upload", async (c) => c.json({ bytes: (await c.req.text()).length }));
    // The stalled body's read fails when its connection is closed: nobody is left to answer.
    app.onError((_error, c) => c.body(null, 400));
    server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }) as Server;
    await new Promise<void>((resolve) => server.once("listening", () => resolve()));
    expect(server.requestTimeout).toBe(300_000); // Node's default, which cut long imports
    applyHttpTimeouts(server, 1_000);
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("sets no limit on a request's total time", () => {
    expect(server.requestTimeout).toBe(0);
  });

  it("closes a connection whose body stalls", async () => {
    const { socket, closed } = rawRequest(port);
    socket.write(
      "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n0123456789",
    );
    // Ninety bytes never come: the connection is closed for its silence (without the idle timeout it would stay
    // open for Node's five minutes, past this test's timeout).
    expect(await closed).not.toContain("200 OK");
  });

  it("lets a slow body that keeps arriving take longer than the idle timeout in all", async () => {
    const { socket, closed } = rawRequest(port);
    const chunks = 12;
    socket.write(
      `POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: ${chunks * 10}\r\nConnection: close\r\n\r\n`,
    );
    for (let i = 0; i < chunks; i++) {
      await sleep(250); // 3 s in all, each gap a quarter of the idle timeout
      socket.write("0123456789");
    }
    const answer = await closed;
    expect(answer).toContain("200 OK");
    expect(answer).toContain('{"bytes":120}');
  });
});
