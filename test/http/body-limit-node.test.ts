import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, orderBody, serveOnNode, type TestContext } from "../support/app.ts";

/**
 * On a Node server a body with a declared Content-Length is checked against the limit from the header alone and
 * then read straight from the socket; a chunked body is counted while it streams in (Hono's bodyLimit). Both
 * answer 413 over the limit, and a body under it is read as before.
 */
describe("body size limit on a Node server", () => {
  let t: TestContext;
  let node: Awaited<ReturnType<typeof serveOnNode>>;
  let base: string;
  let apiKey: string;

  beforeAll(async () => {
    t = await createTestContext("embedded");
    node = await serveOnNode(t.app);
    base = node.base;
    ({ apiKey } = await t.newTenant());
  });
  afterAll(async () => {
    await node.close();
    await t.close();
  });

  function post(body: BodyInit, extra: Record<string, string> = {}) {
    return fetch(`${base}/v1/orders/create`, {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json", ...extra },
      body,
      duplex: "half",
    } as RequestInit);
  }

  it("creates an order from a body with a declared length, with and without an Idempotency-Key", async () => {
    const plain = await post(JSON.stringify(orderBody({ external_id: "NODE-LEN-1" })));
    expect(plain.status).toBe(201);
    expect(await plain.json()).toMatchObject({ external_id: "NODE-LEN-1", status: "CREATED" });
    const keyed = await post(JSON.stringify(orderBody({ external_id: "NODE-LEN-2" })), {
      "idempotency-key": "node-len-2",
    });
    expect(keyed.status).toBe(201);
    expect(await keyed.json()).toMatchObject({ external_id: "NODE-LEN-2" });
  });

  it("answers 413 for a declared length over 1 MiB", async () => {
    const res = await post(JSON.stringify(orderBody({ notes: "x".repeat(1024 * 1024 + 10) })));
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ code: "payload_too_large" });
  });

  it("answers 413 for a chunked body over 1 MiB, and reads a small chunked body", async () => {
    const chunked = (text: string) =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(text));
          controller.close();
        },
      });
    const big = await post(chunked(JSON.stringify(orderBody({ notes: "x".repeat(1024 * 1024 + 10) }))));
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ code: "payload_too_large" });
    const small = await post(chunked(JSON.stringify(orderBody({ external_id: "NODE-CHUNKED-1" }))));
    expect(small.status).toBe(201);
  });
});
