import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../../test/docs/server.ts";
import {
  CellviError,
  type CreateOrderRequest,
  createClient,
  verifyWebhook,
  WebhookVerificationError,
} from "../src/index.ts";

/** The SDK against a running server (src/server.ts on a private PostgreSQL database), as an integrator uses it. */
function orderInput(externalId: string): CreateOrderRequest {
  return {
    external_id: externalId,
    recipient: { name: "Valentina Gómez", phone: "+573001234567" },
    destination: {
      address_line1: "Carrera 7 # 71-21",
      city: "Bogotá",
      country: "CO",
      latitude: 4.6561,
      longitude: -74.0552,
    },
    packages: [{ weight_kg: 1.2 }],
  };
}

interface Received {
  body: Buffer;
  headers: IncomingHttpHeaders;
}

/** A local webhook receiver that records what it gets and answers 204. */
async function startReceiver(): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      received.push({ body: Buffer.concat(chunks), headers: req.headers });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/webhooks`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function until<T>(probe: () => T | undefined, what: string, attempts = 150): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const value = probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gave up waiting for ${what}`);
}

describe("the TypeScript SDK against a running server", () => {
  let server: RunningServer;
  let apiKey: string;
  beforeAll(async () => {
    server = await startServer({ name: "sdk" });
    ({ apiKey } = await server.newTenant("SDK tenant"));
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
  });

  it("creates, reads and lists orders with typed inputs and outputs", async () => {
    const cellvi = createClient({ apiKey, baseUrl: server.url });
    const created = await cellvi.createOrder({ body: orderInput(`SDK-${Date.now()}`) });
    expect(created.status).toBe("CREATED");
    expect(created.mode).toBe("test");
    const read = await cellvi.getOrder({ params: { id: created.id } });
    expect(read.tracking_number).toBe(created.tracking_number);
    const page = await cellvi.listOrders({ query: { limit: 10 } });
    expect(page.data.map((order) => order.id)).toContain(created.id);
  });

  it("pages through every order with paginate()", async () => {
    const cellvi = createClient({ apiKey, baseUrl: server.url });
    const ids = new Set<string>();
    for (let i = 0; i < 5; i++) {
      ids.add((await cellvi.createOrder({ body: orderInput(`SDK-PAGE-${i}-${Date.now()}`) })).id);
    }
    const seen: string[] = [];
    for await (const order of cellvi.paginate("listOrders", { query: { limit: 2 } })) seen.push(order.id);
    for (const id of ids) expect(seen).toContain(id);
    expect(new Set(seen).size).toBe(seen.length);
  });

  it("throws CellviError with the problem's code, request id and field errors", async () => {
    const cellvi = createClient({ apiKey, baseUrl: server.url });
    const invalid = { ...orderInput("SDK-BAD"), recipient: { name: "Ana" } } as unknown as CreateOrderRequest;
    const error = await cellvi.createOrder({ body: invalid }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CellviError);
    const problem = error as CellviError;
    expect(problem.status).toBe(400);
    expect(problem.code).toBe("validation_failed");
    expect(problem.requestId).toMatch(/^req_/);
    expect(problem.problem.errors).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: "/recipient/phone" })]),
    );
    const missing = await cellvi
      .getOrder({ params: { id: "00000000-0000-4000-8000-000000000000" } })
      .catch((e: unknown) => e);
    expect((missing as CellviError).code).toBe("not_found");
    const unauthenticated = createClient({ apiKey: "cvk_test_wrong", baseUrl: server.url, maxRetries: 0 });
    expect(((await unauthenticated.listOrders().catch((e: unknown) => e)) as CellviError).code).toBe(
      "unauthorized",
    );
  });

  it("makes writes safe to retry: the same idempotency key returns the same order", async () => {
    const cellvi = createClient({ apiKey, baseUrl: server.url });
    const body = orderInput(`SDK-IDEM-${Date.now()}`);
    const first = await cellvi.createOrder({ body, idempotencyKey: "sdk-test-key-1" });
    const second = await cellvi.createOrder({ body, idempotencyKey: "sdk-test-key-1" });
    expect(second.id).toBe(first.id);
    const reused = await cellvi
      .createOrder({ body: { ...body, notes: "other" }, idempotencyKey: "sdk-test-key-1" })
      .catch((e: unknown) => e);
    expect((reused as CellviError).code).toBe("idempotency_key_reused");
  });

  it("subscribes, receives a real delivery and verifies it with verifyWebhook", async () => {
    const receiver = await startReceiver();
    try {
      const cellvi = createClient({ apiKey, baseUrl: server.url });
      const subscription = await cellvi.subscribeWebhook({ body: { url: receiver.url, events: ["*"] } });
      const order = await cellvi.createOrder({ body: orderInput(`SDK-WH-${Date.now()}`) });
      const delivery = await until(
        () => receiver.received.find((r) => JSON.parse(r.body.toString()).data?.order_id === order.id),
        "the ORDER_CREATED delivery",
      );
      const event = await verifyWebhook(delivery.body, delivery.headers, subscription.secret);
      expect(event.type).toBe("ORDER_CREATED");
      expect(event.data.order_id).toBe(order.id);
      expect(event.data.external_id).toBe(order.external_id);

      const tampered = Buffer.from(
        delivery.body.toString().replace(order.id, "00000000-0000-4000-8000-0000000000ff"),
      );
      await expect(verifyWebhook(tampered, delivery.headers, subscription.secret)).rejects.toBeInstanceOf(
        WebhookVerificationError,
      );
      const otherSecret = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;
      await expect(verifyWebhook(delivery.body, delivery.headers, otherSecret)).rejects.toThrow(
        /No signature/,
      );
      // During a rotation a receiver holds both secrets: either one verifies.
      await expect(
        verifyWebhook(delivery.body, delivery.headers, [otherSecret, subscription.secret]),
      ).resolves.toMatchObject({ type: "ORDER_CREATED" });
    } finally {
      await receiver.close();
    }
  }, 60_000);
});

describe("verifyWebhook agrees with the standardwebhooks library", () => {
  const secret = `whsec_${Buffer.from("a 32 byte secret for the sdk test").toString("base64")}`;
  const payload = JSON.stringify({
    type: "DELIVERED",
    timestamp: "2026-11-28T15:52:30.000Z",
    data: { order_id: "o1", external_id: "SO-1", status: "DELIVERED", city: "Bogotá" },
  });

  it("accepts what the library signs, and rejects stale timestamps", async () => {
    const now = new Date();
    const signature = new Webhook(secret).sign("evt_1", now, payload);
    const headers = {
      "webhook-id": "evt_1",
      "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
      "webhook-signature": signature,
    };
    await expect(verifyWebhook(payload, headers, secret)).resolves.toMatchObject({ type: "DELIVERED" });
    // The library verifies the same delivery, so the two implementations agree on the format.
    expect(new Webhook(secret).verify(payload, headers)).toMatchObject({ type: "DELIVERED" });
    const later = () => new Date(now.getTime() + 10 * 60 * 1000);
    await expect(verifyWebhook(payload, headers, secret, { now: later })).rejects.toThrow(/tolerance/);
    await expect(verifyWebhook(payload, { "webhook-id": "evt_1" }, secret)).rejects.toThrow(/Missing/);
  });
});
