import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Clock } from "../../src/services.ts";
import type { TestContext } from "../support/app.ts";

/** Helpers shared by the connector tests: fixtures, platform signatures, a movable clock and fake platform APIs. */

export const fixturesDir = "/work/shared/fixtures";

export function fixtureText(path: string): string {
  return readFileSync(`${fixturesDir}/${path}`, "utf8");
}

export function fixtureJson<T = Record<string, unknown>>(path: string): T {
  return JSON.parse(fixtureText(path)) as T;
}

/** A fixed 32-byte key, so tests never write a key file. */
export const testEncryptionKey = Buffer.alloc(32, 7).toString("base64");

export const connectorEnv = {
  CONNECTOR_ENCRYPTION_KEY: testEncryptionKey,
  CONNECTOR_ALLOW_PRIVATE_URLS: "true",
  CONNECTOR_HTTP_TIMEOUT_MS: "2000",
};

export function hmacBase64(secret: string, body: string | Buffer): string {
  return createHmac("sha256", secret).update(body).digest("base64");
}

export class MovableClock implements Clock {
  constructor(private current = new Date("2026-11-28T12:00:00.000Z")) {}
  now(): Date {
    return new Date(this.current);
  }
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
}

export interface FakeRequest {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
}

/**
 * A local HTTP server standing in for a platform API (VTEX OMS, Magento REST). `failNext(n, status)` makes the
 * next n requests fail, so tests can watch the connector retry and recover.
 */
export class FakePlatform {
  readonly requests: FakeRequest[] = [];
  private failures: number[] = [];
  private server: Server | null = null;
  url = "";

  constructor(private readonly handle: (request: FakeRequest) => { status: number; body: unknown }) {}

  async start(): Promise<this> {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const request = { method: req.method ?? "GET", url: req.url ?? "/", headers: req.headers };
      this.requests.push(request);
      const failure = this.failures.shift();
      const answer =
        failure !== undefined
          ? { status: failure, body: { error: "induced failure" } }
          : this.handle(request);
      res.writeHead(answer.status, { "content-type": "application/json" });
      res.end(JSON.stringify(answer.body));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  failNext(count: number, status = 503): void {
    for (let i = 0; i < count; i++) this.failures.push(status);
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}

export async function createConnector(t: TestContext, key: string, body: Record<string, unknown>) {
  const response = await t.request("/v1/connectors", { method: "POST", key, json: body });
  const json = (await response.json()) as Record<string, unknown> & {
    id: string;
    inbound_url: string;
    generated_credentials: Record<string, string>;
  };
  if (response.status !== 201)
    throw new Error(`connector not created: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

/** The inbound path of a connector (its inbound_url without the public base URL). */
export function inboundPath(connector: { inbound_url: string }): string {
  return new URL(connector.inbound_url).pathname;
}

export async function countRows(
  t: TestContext,
  table: string,
  where = "true",
  params: unknown[] = [],
): Promise<number> {
  const { rows } = await t.services.db.query<{ n: number }>(
    `select count(*)::int as n from ${table} where ${where}`,
    params,
  );
  return rows[0]!.n;
}
