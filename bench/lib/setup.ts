import { join } from "node:path";
import pg from "pg";
import { loadMigrations, migrate } from "../../src/adapters/db/migrate.ts";
import { openPostgresDb } from "../../src/adapters/db/postgres.ts";
import type { Db } from "../../src/adapters/db/types.ts";
import type { CreateOrderInput } from "../../src/domain/orders/schemas.ts";
import { insertOrder } from "../../src/domain/orders/store.ts";
import { createTenant } from "../../src/domain/tenants/store.ts";

/** A database of its own on the machine's PostgreSQL, created for one benchmark run and dropped after it. */
export interface BenchDatabase {
  url: string;
  db: Db;
  drop(): Promise<void>;
}

/** `gatewayRoot`: the checkout whose migrations shape the schema (another commit's, for a before/after run). */
export async function createBenchDatabase(adminUrl: string, gatewayRoot?: string): Promise<BenchDatabase> {
  const name = `cellvi_bench_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const db = await openPostgresDb(url.toString(), { poolMax: 4 });
  await migrate(
    db,
    gatewayRoot ? await loadMigrations(join(gatewayRoot, "supabase", "migrations")) : undefined,
  );
  return {
    url: url.toString(),
    db,
    async drop() {
      await db.close();
      const dropper = new pg.Client({ connectionString: adminUrl });
      await dropper.connect();
      await dropper.query(`drop database if exists ${name} with (force)`);
      await dropper.end();
    },
  };
}

export interface BenchTenant {
  tenantId: string;
  apiKey: string;
}

/**
 * A test-mode tenant whose key's limit is far above what the machine can send, so the limiter runs its whole
 * decision on every request (Redis round trip included) but never refuses one during a measurement.
 */
export async function createBenchTenant(db: Db, name: string): Promise<BenchTenant> {
  const { tenant, key, apiKey } = await createTenant(db, { name, mode: "test" });
  await db.query("update api_keys set rate_limit_per_minute = 1000000000 where id = $1", [key.id]);
  return { tenantId: tenant.id, apiKey };
}

export function orderInput(externalId: string): CreateOrderInput {
  return {
    external_id: externalId,
    recipient: { name: "Valentina Gómez", phone: "+573001234567", email: "valentina@example.com" },
    destination: {
      address_line1: "Carrera 7 # 71-21",
      city: "Bogotá",
      country: "CO",
      latitude: 4.6561,
      longitude: -74.0552,
    },
    packages: [{ weight_kg: 1.2 }],
  } as CreateOrderInput;
}

/** The JSON body of `POST /v1/orders/create` used by the order scenario; `[<id>]` is replaced per request. */
export const createOrderBody = JSON.stringify({
  external_id: "BENCH-[<id>]",
  recipient: { name: "Valentina Gómez", phone: "+573001234567", email: "valentina@example.com" },
  destination: {
    address_line1: "Carrera 7 # 71-21",
    city: "Bogotá",
    country: "CO",
    latitude: 4.6561,
    longitude: -74.0552,
  },
  packages: [{ weight_kg: 1.2, description: "Zapatos deportivos" }],
  cod_amount: 185000,
  currency: "COP",
  service_level: "standard",
});

/** Orders to track: their numbers and tokens. */
export async function createTrackedOrders(
  db: Db,
  tenant: BenchTenant,
  count: number,
): Promise<{ number: string; token: string }[]> {
  const orders: { number: string; token: string }[] = [];
  for (let i = 0; i < count; i++) {
    const result = await db.transaction((tx) =>
      insertOrder(tx, { tenantId: tenant.tenantId, mode: "test" }, orderInput(`TRACK-${i}`)),
    );
    if (result.kind !== "created") throw new Error("could not create a tracked order");
    orders.push({ number: result.order.tracking_number, token: result.order.tracking_token });
  }
  return orders;
}
