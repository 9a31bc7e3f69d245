import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPostgresDb } from "../../src/adapters/db/postgres.ts";
import { createTenant } from "../../src/domain/tenants/store.ts";
import { orderBody } from "../support/app.ts";
import { type PrivatePostgres, startPrivatePostgres } from "../support/private-postgres.ts";
import { type ServerProcess, startServerProcess } from "../support/server-process.ts";

/**
 * PostgreSQL stopped and started again under traffic, against the real service process (`src/server.ts`) and a
 * private PostgreSQL this test owns. While the database is away every request must get an answer, and that answer
 * must be a 503 problem+json (never a hang, a 500 or a crash); /readyz must say so; and once the database is back
 * the service must serve again without being restarted.
 */

type Phase = "before" | "stopping" | "down" | "starting" | "after";

interface Outcome {
  phase: Phase;
  route: string;
  status: number | null;
  contentType: string | null;
  code: string | null;
  error: string | null;
}

// A request that has not been answered after this long counts as a hang and fails the test.
const hangLimitMs = 20_000;

/** Polls `check` every 50 ms; fails after `limitMs` (a bound on the wait, not a performance assertion). */
async function waitUntil(
  check: () => boolean | Promise<boolean>,
  what: string,
  limitMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("PostgreSQL restarted during traffic", () => {
  let postgres: PrivatePostgres;
  let server: ServerProcess;
  let base: string;
  let apiKey: string;
  let tracking: { number: string; token: string };
  let phase: Phase = "before";
  const outcomes: Outcome[] = [];
  let traffic: Promise<void> | undefined;
  let trafficRunning = false;

  async function send(route: string, init: RequestInit & { path: string }): Promise<void> {
    const startedIn = phase;
    try {
      const response = await fetch(`${base}${init.path}`, {
        ...init,
        signal: AbortSignal.timeout(hangLimitMs),
      });
      const contentType = response.headers.get("content-type");
      let code: string | null = null;
      if (contentType?.includes("json")) code = ((await response.json()) as { code?: string }).code ?? null;
      else await response.arrayBuffer();
      outcomes.push({ phase: startedIn, route, status: response.status, contentType, code, error: null });
    } catch (error) {
      outcomes.push({
        phase: startedIn,
        route,
        status: null,
        contentType: null,
        code: null,
        error: (error as Error).message,
      });
    }
  }

  /** Four clients in a loop: creating orders, listing them, and the public tracking page. */
  function startTraffic(): Promise<void> {
    trafficRunning = true;
    const auth = { authorization: `Bearer ${apiKey}` };
    const client = async (id: number) => {
      for (let n = 0; trafficRunning && n < 200_000; n++) {
        const pick = (n + id) % 3;
        if (pick === 0) {
          await send("create", {
            path: "/v1/orders/create",
            method: "POST",
            headers: { ...auth, "content-type": "application/json" },
            body: JSON.stringify(orderBody()),
          });
        } else if (pick === 1) {
          await send("list", { path: "/v1/orders?limit=5", headers: auth });
        } else {
          await send("tracking", { path: `/v1/tracking/${tracking.number}?token=${tracking.token}` });
        }
        // Keeps the loop from monopolising the shared CPUs; the outage logic does not depend on the pace.
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    return Promise.all([0, 1, 2, 3].map(client)).then(() => {});
  }

  const successesIn = (wanted: Phase) =>
    outcomes.filter((o) => o.phase === wanted && o.status !== null && o.status < 300).length;
  const readiness = async () => {
    const response = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(hangLimitMs) });
    return {
      status: response.status,
      body: (await response.json()) as { status: string; checks: Record<string, { ok: boolean }> },
    };
  };

  beforeAll(async () => {
    postgres = await startPrivatePostgres();
    await postgres.createDatabase("cellvi");
    const db = await openPostgresDb(postgres.url("cellvi"), { poolMax: 2 });
    server = await startServerProcess({
      DATABASE_URL: postgres.url("cellvi"),
      DATABASE_POOL_MAX: "8",
      RATE_LIMIT_PER_MINUTE: "1000000",
      TRACKING_RATE_LIMIT_PER_MINUTE: "1000000",
    });
    base = `http://127.0.0.1:${server.port}`;
    // The service has migrated the database by now; the tenant is made directly, as the CLI would.
    ({ apiKey } = await createTenant(db, { name: "Faults", mode: "test" }));
    await db.close();
    const created = await fetch(`${base}/v1/orders/create`, {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
      body: JSON.stringify(orderBody()),
    });
    expect(created.status).toBe(201);
    const order = (await created.json()) as { tracking_number: string; tracking_token: string };
    tracking = { number: order.tracking_number, token: order.tracking_token };
    traffic = startTraffic();
  });

  afterAll(async () => {
    trafficRunning = false;
    await traffic;
    server?.kill();
    await postgres?.destroy();
  });

  for (const mode of ["fast", "immediate"] as const) {
    it(`answers 503 while the database is down (${mode} stop), reports it on /readyz, and recovers by itself`, async () => {
      outcomes.length = 0;
      phase = "before";
      await waitUntil(() => successesIn("before") >= 30, "traffic to succeed before the outage");

      phase = "stopping";
      await postgres.stop(mode);
      phase = "down";
      await waitUntil(
        () => outcomes.filter((o) => o.phase === "down").length >= 30,
        "requests answered while the database is down",
      );
      const down = await readiness();
      expect(down.status).toBe(503);
      expect(down.body.status).toBe("unavailable");
      expect(down.body.checks.database?.ok).toBe(false);

      phase = "starting";
      await postgres.start();
      phase = "after";
      // Nobody restarts the service: its pool reconnects on its own.
      await waitUntil(async () => (await readiness()).status === 200, "/readyz to recover");
      await waitUntil(() => successesIn("after") >= 30, "traffic to succeed again");

      // Every request got an answer: no hang (abort after 20 s), no connection reset.
      expect(outcomes.filter((o) => o.error !== null)).toEqual([]);
      // While the database was down, only 503 problem+json service_unavailable.
      const whileDown = outcomes.filter((o) => o.phase === "down");
      expect(whileDown.length).toBeGreaterThanOrEqual(30);
      for (const outcome of whileDown) {
        expect(outcome).toMatchObject({
          status: 503,
          contentType: "application/problem+json",
          code: "service_unavailable",
        });
      }
      // Around the transitions a request may still succeed or already fail, but never with anything but a 503.
      for (const outcome of outcomes) expect([200, 201, 503]).toContain(outcome.status);
      for (const route of ["create", "list", "tracking"]) {
        expect(outcomes.some((o) => o.phase === "after" && o.route === route && o.status! < 300)).toBe(true);
      }
      // The process is still the same one, and it logged no unhandled error.
      expect(server.child.exitCode).toBeNull();
      expect(server.logs.filter((line) => line.msg === "unhandled error")).toEqual([]);
      expect(server.logs.some((line) => line.msg === "database unavailable")).toBe(true);
    });
  }
});
