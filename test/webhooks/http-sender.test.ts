import { createServer, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHttpWebhookSender } from "../../src/adapters/sender/http.ts";
import { createRecordingWebhookSender } from "../../src/adapters/sender/recording.ts";
import type { WebhookSender } from "../../src/adapters/sender/types.ts";
import { blockedAddressReason } from "../../src/domain/webhooks/url-guard.ts";
import { type Receiver, type ReceiverAnswer, startReceiver } from "./support.ts";

const lenient = createHttpWebhookSender({
  checkAddress: (a) => blockedAddressReason(a, { allowPrivate: true }),
});
const strict = createHttpWebhookSender({
  checkAddress: (a) => blockedAddressReason(a, { allowPrivate: false }),
});

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("the HTTP webhook sender", () => {
  let receiver: Receiver;
  let release: () => void = () => {};
  beforeAll(async () => {
    receiver = await startReceiver((request): ReceiverAnswer => {
      const path = String(request.headers["x-test-path"] ?? "");
      if (path === "slow") {
        return { status: 200, holdUntil: new Promise<void>((resolve) => (release = resolve)) };
      }
      if (path === "busy") return { status: 429, headers: { "retry-after": "30" }, body: "slow down" };
      if (path === "redirect") return { status: 302, headers: { location: "http://127.0.0.1:1/elsewhere" } };
      if (path === "big") return { status: 200, body: "x".repeat(5_000) };
      return { status: 204 };
    });
  });
  afterAll(async () => {
    release();
    await receiver.close();
    await lenient.close();
    await strict.close();
  });

  const send = (sender: WebhookSender, path: string, url = receiver.url, timeoutMs = 2_000) =>
    sender.send({
      url,
      headers: { "content-type": "application/json", "x-test-path": path, "webhook-id": "evt_x" },
      body: '{"type":"DELIVERED","data":{"name":"Valentina Gómez"}}',
      timeoutMs,
    });

  it("posts the body byte for byte with the given headers", async () => {
    const before = receiver.received.length;
    const result = await send(lenient, "ok");
    expect(result).toMatchObject({ kind: "response", status: 204 });
    const got = receiver.received[before]!;
    expect(got.body).toBe('{"type":"DELIVERED","data":{"name":"Valentina Gómez"}}');
    expect(got.headers["webhook-id"]).toBe("evt_x");
    expect(got.headers["content-length"]).toBe(String(Buffer.byteLength(got.body)));
  });

  it("reports the status, Retry-After and the first KiB of the answer", async () => {
    expect(await send(lenient, "busy")).toMatchObject({ status: 429, retryAfter: "30", body: "slow down" });
    const big = await send(lenient, "big");
    expect(big.kind === "response" && big.body.length).toBe(1_024);
  });

  it("does not follow redirects", async () => {
    expect(await send(lenient, "redirect")).toMatchObject({ kind: "response", status: 302 });
  });

  it("gives up after the timeout", async () => {
    const result = await send(lenient, "slow", receiver.url, 150);
    expect(result).toMatchObject({ kind: "error", reason: "timeout", error: "timed out after 150 ms" });
    release();
  });

  it("reports a refused connection", async () => {
    const port = await closedPort();
    const result = await send(lenient, "ok", `http://127.0.0.1:${port}/x`);
    expect(result).toMatchObject({ kind: "error", reason: "connection", error: "connection refused" });
  });

  it("refuses at connection time an address the guard forbids, for literals and for names", async () => {
    const before = receiver.received.length;
    const literal = await send(strict, "ok");
    expect(literal).toMatchObject({ kind: "error", reason: "blocked" });
    // `localhost` goes through DNS: the agent's lookup vets what it resolves to before connecting.
    const named = await send(strict, "ok", receiver.url.replace("127.0.0.1", "localhost"));
    expect(named).toMatchObject({ kind: "error", reason: "blocked" });
    expect(named.kind === "error" && named.error).toContain("loopback");
    expect(receiver.received.length).toBe(before);
  });

  it("resolves host names for the subscription check", async () => {
    expect(await lenient.resolveHost("localhost")).toContain("127.0.0.1");
    await expect(lenient.resolveHost("does-not-exist.invalid")).rejects.toThrow();
  });
});

describe("the HTTP webhook sender on a kept-alive connection the receiver drops", () => {
  it("sends once more on a fresh connection when a reused socket is reset before any answer", async () => {
    // A bare HTTP server: it answers the first request of each connection and resets the connection on the second,
    // as a receiver closing an idle keep-alive connection at the moment we reuse it would.
    let connections = 0;
    let requests = 0;
    const server = createServer((socket: Socket) => {
      connections++;
      let seen = 0;
      let buffered = "";
      socket.on("data", (chunk) => {
        buffered += chunk.toString();
        const end = buffered.indexOf("\r\n\r\n");
        if (end === -1) return;
        const length = Number(/content-length: (\d+)/i.exec(buffered)?.[1] ?? 0);
        if (buffered.length < end + 4 + length) return;
        buffered = buffered.slice(end + 4 + length);
        requests++;
        seen++;
        if (seen === 2) socket.resetAndDestroy();
        else socket.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n");
      });
      socket.on("error", () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : 0;
    const sender = createHttpWebhookSender({ checkAddress: () => null });
    const request = { url: `http://127.0.0.1:${port}/h`, headers: {}, body: "{}", timeoutMs: 2_000 };
    try {
      expect(await sender.send(request)).toMatchObject({ kind: "response", status: 200 });
      expect(await sender.send(request)).toMatchObject({ kind: "response", status: 200 });
      expect(connections).toBe(2);
      expect(requests).toBe(3);
    } finally {
      await sender.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe("the recording sender (the HTTP sender's in-memory twin)", () => {
  it("records requests and answers as told, with the same result shape", async () => {
    const sender = createRecordingWebhookSender({
      respond: (_request, index) =>
        index === 0
          ? { kind: "response", status: 503, retryAfter: "5", body: "", durationMs: 1 }
          : { kind: "error", reason: "timeout", error: "timed out after 10 ms", durationMs: 10 },
      hosts: { "hooks.example.com": ["93.184.215.14"] },
    });
    const request = { url: "https://hooks.example.com/x", headers: {}, body: "{}", timeoutMs: 10 };
    expect(await sender.send(request)).toMatchObject({ kind: "response", status: 503, retryAfter: "5" });
    expect(await sender.send(request)).toMatchObject({ kind: "error", reason: "timeout" });
    expect(sender.requests).toEqual([request, request]);
    expect(await sender.resolveHost("hooks.example.com")).toEqual(["93.184.215.14"]);
    await expect(sender.resolveHost("nowhere.example.com")).rejects.toThrow(/ENOTFOUND/);
  });
});
