import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DatabaseUnavailableError } from "../../src/adapters/db/errors.ts";
import { openPostgresDb } from "../../src/adapters/db/postgres.ts";
import type { Db } from "../../src/adapters/db/types.ts";
import { createApp } from "../../src/app.ts";
import type { App } from "../../src/http/context.ts";
import { createTestContext, type TestContext } from "../support/app.ts";

/** A loopback port nothing listens on: bound by us, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address !== "object") throw new Error("no port");
  return address.port;
}

describe("a database that cannot be reached", () => {
  let ctx: TestContext;
  let db: Db;
  let app: App;

  beforeAll(async () => {
    ctx = await createTestContext("postgres");
    db = await openPostgresDb(`postgres://postgres@127.0.0.1:${await closedPort()}/nowhere`, { poolMax: 2 });
    // The whole app, wired to a database whose port refuses connections.
    app = createApp({ ...ctx.services, db });
  });
  afterAll(async () => {
    await db?.close();
    await ctx?.close();
  });

  it("fails queries and transactions with DatabaseUnavailableError, not a raw socket error", async () => {
    await expect(db.query("select 1")).rejects.toBeInstanceOf(DatabaseUnavailableError);
    await expect(db.transaction((tx) => tx.query("select 1"))).rejects.toBeInstanceOf(
      DatabaseUnavailableError,
    );
    await expect(db.ping()).rejects.toThrow(/database unavailable: ECONNREFUSED/);
  });

  it("answers API requests with 503 service_unavailable problem+json and Retry-After", async () => {
    const response = await app.request("http://cellvi.test/v1/tracking/CV7K3M9Q2XW4PD?token=trk_whatever");
    expect(response.status).toBe(503);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    expect(response.headers.get("retry-after")).toBe("2");
    const body = (await response.json()) as { code: string; request_id: string; detail: string };
    expect(body.code).toBe("service_unavailable");
    expect(body.request_id).toBe(response.headers.get("x-request-id"));
    // Nothing about hosts or ports reaches the caller.
    expect(body.detail).not.toMatch(/127\.0\.0\.1|ECONNREFUSED/);
  });

  it("reports itself unready on /readyz", async () => {
    const response = await app.request("http://cellvi.test/readyz");
    expect(response.status).toBe(503);
    const body = (await response.json()) as { status: string; checks: Record<string, { ok: boolean }> };
    expect(body.status).toBe("unavailable");
    expect(body.checks.database?.ok).toBe(false);
  });

  it("keeps query errors (constraint violations) as they are, for the domain to handle", async () => {
    const error = await ctx.services.db
      .query("insert into tenants (id, name) values ($1, 'a'), ($1, 'b')", [crypto.randomUUID()])
      .catch((caught: unknown) => caught);
    expect(error).not.toBeInstanceOf(DatabaseUnavailableError);
    expect((error as { code?: string }).code).toBe("23505");
  });
});
