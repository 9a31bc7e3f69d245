import { expect } from "vitest";
import type { Queryable } from "../../src/adapters/db/types.ts";
import { orderBody, type TestContext } from "../support/app.ts";

/** The destination of `orderBody()`: a Bogotá address with coordinates. */
export const destination = { latitude: 4.6561, longitude: -74.0552 };

export interface Actors {
  tenantId: string;
  /** Customer key (all customer scopes, test mode). */
  apiKey: string;
  /** Same tenant, test mode, scope ops. */
  opsKey: string;
}

export async function newActors(t: TestContext, mode: "test" | "live" = "test"): Promise<Actors> {
  const { tenantId, apiKey } = await t.newTenant({ mode });
  const { apiKey: opsKey } = await t.newKey(tenantId, { mode, scopes: ["ops"] });
  return { tenantId, apiKey, opsKey };
}

export interface CreatedOrder {
  id: string;
  tracking_number: string;
  tracking_token: string;
}

export async function createOrder(
  t: TestContext,
  apiKey: string,
  overrides: Record<string, unknown> = {},
): Promise<CreatedOrder> {
  const res = await t.request("/v1/orders/create", {
    method: "POST",
    key: apiKey,
    json: orderBody(overrides),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as CreatedOrder;
}

/** A GPS fix `metersNorth` metres north of the destination, recorded `secondsAgo` seconds before now. */
export function positionNear(metersNorth: number, secondsAgo: number, now = Date.now()) {
  return {
    latitude: destination.latitude + metersNorth / 111_195,
    longitude: destination.longitude,
    recorded_at: new Date(now - secondsAgo * 1000).toISOString(),
  };
}

export const driver = {
  id: "drv_7",
  name: "Carlos Andrés Restrepo",
  phone: "+573104567890",
  vehicle_plate: "KLM-482",
};

export function post(
  t: TestContext,
  key: string,
  path: string,
  json: unknown,
  headers: Record<string, string> = {},
) {
  return t.request(path, { method: "POST", key, json, headers });
}

export interface EventRow {
  id: string;
  type: string;
  mode: string;
  tenant_id: string;
  payload: Record<string, unknown> & { status: string; attempt?: number };
  occurred_at: Date;
}

export async function eventsOf(db: Queryable, orderId: string): Promise<EventRow[]> {
  const { rows } = await db.query<EventRow>(
    "select id, type, mode, tenant_id, payload, occurred_at from events where order_id = $1 order by seq",
    [orderId],
  );
  return rows;
}

export async function historyOf(db: Queryable, orderId: string) {
  const { rows } = await db.query<{
    status: string;
    actor: string;
    city: string | null;
    details: Record<string, unknown>;
  }>("select status, actor, city, details from order_status_history where order_id = $1 order by id", [
    orderId,
  ]);
  return rows;
}

export async function orderRow(db: Queryable, orderId: string) {
  const { rows } = await db.query<{
    status: string;
    attempt: number;
    closed_at: Date | null;
    updated_at: Date;
  }>("select status, attempt, closed_at, updated_at from orders where id = $1", [orderId]);
  return rows[0]!;
}

/** Asserts a problem+json response with this status and code, and returns its body. */
export async function expectProblem(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toContain("application/problem+json");
  const body = (await res.json()) as Record<string, unknown>;
  expect(body.code).toBe(code);
  expect(body.status).toBe(status);
  expect(typeof body.request_id).toBe("string");
  return body;
}
