import { Redis } from "ioredis";
import { freePort, type Managed, startGateway } from "./processes.ts";
import { type BenchDatabase, type BenchTenant, createBenchDatabase, createBenchTenant } from "./setup.ts";

/** One checkout of a before/after pair: its own database (shaped by its own migrations), tenant and gateway. */
export interface AbSide {
  name: "before" | "after";
  database: BenchDatabase;
  tenant: BenchTenant;
  gateway: Managed;
  url: string;
  pid: number;
}

/** Deletes a run's keys (SCAN, never FLUSH: the machine's Redis is shared). */
export async function deleteRedisPrefix(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = "0";
    for (let round = 0; round < 100_000; round++) {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
      if (cursor === "0") break;
    }
  } finally {
    redis.disconnect();
  }
}

/**
 * Starts both sides of a pair, before then after, each on a database of its own: a checkout refuses a schema
 * with migrations it does not know. `stop` stops the gateways, drops the databases and deletes the Redis keys.
 */
export async function startAbSides(options: {
  dirs: Record<AbSide["name"], string>;
  adminUrl: string;
  redisUrl: string;
  redisPrefix: string;
  /** Extra environment of a side's gateway (e.g. its pool size). */
  env?: (name: AbSide["name"]) => Record<string, string>;
  /** Extra Node flags of a side's gateway (e.g. `--cpu-prof` for one of them). */
  nodeFlags?: (name: AbSide["name"]) => string[];
}): Promise<{ sides: AbSide[]; stop(): Promise<void> }> {
  const sides: AbSide[] = [];
  const stop = async () => {
    for (const side of sides) {
      await side.gateway.stop();
      await side.database.drop();
    }
    await deleteRedisPrefix(options.redisUrl, options.redisPrefix);
  };
  try {
    for (const name of ["before", "after"] as const) {
      const database = await createBenchDatabase(options.adminUrl, options.dirs[name]);
      let gateway: Managed;
      let tenant: BenchTenant;
      try {
        tenant = await createBenchTenant(database.db, `Bench A/B ${name}`);
        gateway = await startGateway(
          {
            DATABASE_URL: database.url,
            REDIS_URL: options.redisUrl,
            RATE_LIMIT_REDIS_PREFIX: `${options.redisPrefix}${name}:`,
            METRICS_PORT: String(await freePort()),
            ...options.env?.(name),
          },
          options.nodeFlags?.(name) ?? [],
          options.dirs[name],
        );
      } catch (error) {
        await database.drop();
        throw error;
      }
      sides.push({
        name,
        database,
        tenant,
        gateway,
        url: `http://127.0.0.1:${gateway.port}`,
        pid: gateway.child.pid!,
      });
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { sides, stop };
}
