import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { openPostgresDb } from "../../src/adapters/db/postgres.ts";
import type { Db, Queryable } from "../../src/adapters/db/types.ts";
import { createApp } from "../../src/app.ts";
import { generateApiKey } from "../../src/domain/keys/format.ts";
import { createApiKey, recordKeyUsage, revokeApiKey } from "../../src/domain/keys/store.ts";
import { setTenantRateLimit } from "../../src/domain/keys/tenant-limits.ts";
import { KeyVerifier } from "../../src/domain/keys/verifier.ts";
import { buildAuthServices } from "../../src/http/auth-services.ts";
import type { Services } from "../../src/services.ts";
import { createTestContext, type TestContext } from "../support/app.ts";
import { dbKinds } from "../support/db.ts";

/** Counts the statements that reach the database, to prove what the hot path does not do. */
function countingDb(db: Db): { db: Db; statements: string[] } {
  const statements: string[] = [];
  const wrap = (q: Queryable): Queryable => ({
    query: (text, params) => {
      statements.push(text.replace(/\s+/g, " ").trim());
      return q.query(text, params);
    },
    exec: (text) => q.exec(text),
  });
  return {
    statements,
    db: { ...db, ...wrap(db), transaction: (fn) => db.transaction((tx) => fn(wrap(tx))) } as Db,
  };
}

const silent = pino({ level: "silent" });

describe.each(dbKinds)("key verification cache on %s", (kind) => {
  let t: TestContext;
  beforeAll(async () => {
    t = await createTestContext(kind);
  });
  afterAll(() => t.close());

  function verifier(db: Db, options: Partial<ConstructorParameters<typeof KeyVerifier>[0]> = {}) {
    return new KeyVerifier({
      db,
      clock: { now: () => new Date() },
      logger: silent,
      ttlMs: 60_000,
      pollMs: 60_000,
      usageFlushMs: 60_000,
      ...options,
    });
  }

  it("answers repeated verifications from memory, unknown keys included", async () => {
    const { apiKey } = await t.newTenant();
    const counted = countingDb(t.services.db);
    const v = verifier(counted.db);
    try {
      for (let i = 0; i < 20; i++) expect((await v.verify(apiKey))?.mode).toBe("test");
      const unknown = generateApiKey("test");
      for (let i = 0; i < 20; i++) expect(await v.verify(unknown)).toBeNull();
      expect(counted.statements.filter((s) => s.includes("from api_keys k join tenants"))).toHaveLength(2);
      expect(v.stats.hits).toBe(38);
    } finally {
      await v.close();
    }
  });

  it("answers a key string it verified a moment ago by the string, as verify would, until the key changes", async () => {
    const { tenantId } = await t.newTenant();
    const key = await t.newKey(tenantId);
    const counted = countingDb(t.services.db);
    const v = verifier(counted.db);
    try {
      // Nothing is known of a string before it verified against a cached entry (the lookup, then a cached hit).
      expect(v.recentlyVerified(key.apiKey)).toBeUndefined();
      expect((await v.verify(key.apiKey))?.keyId).toBe(key.keyId);
      expect(v.recentlyVerified(key.apiKey)).toBeUndefined();
      expect((await v.verify(key.apiKey))?.keyId).toBe(key.keyId);
      const hits = v.stats.hits;
      expect(v.recentlyVerified(key.apiKey)).toEqual(await v.verify(key.apiKey));
      expect(v.stats.hits).toBe(hits + 2);
      // A copy of the string is the same key; another string is not known.
      expect(v.recentlyVerified(` ${key.apiKey}`.slice(1))?.keyId).toBe(key.keyId);
      // (Its last character changed to one it is not: a random key may end in any of them.)
      const other = `${key.apiKey.slice(0, -1)}${key.apiKey.endsWith("x") ? "y" : "x"}`;
      expect(v.recentlyVerified(other)).toBeUndefined();
      // Revoked and invalidated (what the NOTIFY does): the string is forgotten, and verifies as revoked.
      await revokeApiKey(t.services.db, key.keyId);
      v.invalidateKey(key.keyId);
      expect(v.recentlyVerified(key.apiKey)).toBeUndefined();
      expect(await v.verify(key.apiKey)).toBeNull();
      expect(v.recentlyVerified(key.apiKey)).toBeUndefined();
      expect(counted.statements.filter((s) => s.includes("from api_keys k join tenants"))).toHaveLength(2);
    } finally {
      await v.close();
    }
  });

  it("forgets a verified key string when its tenant changes or everything is dropped, and never keeps unknown ones", async () => {
    const { tenantId, apiKey } = await t.newTenant();
    const v = verifier(t.services.db);
    try {
      await v.verify(apiKey);
      await v.verify(apiKey);
      expect(v.recentlyVerified(apiKey)).not.toBeUndefined();
      v.invalidateTenant(tenantId);
      expect(v.recentlyVerified(apiKey)).toBeUndefined();
      await v.verify(apiKey);
      await v.verify(apiKey);
      expect(v.recentlyVerified(apiKey)).not.toBeUndefined();
      v.invalidateAll();
      expect(v.recentlyVerified(apiKey)).toBeUndefined();
      const unknown = generateApiKey("test");
      for (let i = 0; i < 3; i++) expect(await v.verify(unknown)).toBeNull();
      expect(v.recentlyVerified(unknown)).toBeUndefined();
    } finally {
      await v.close();
    }
  });

  it("checks the expiry of a key verified a moment ago on the injected clock", async () => {
    const { tenantId } = await t.newTenant();
    let now = new Date("2030-01-01T00:00:00Z");
    const { key, apiKey } = await createApiKey(t.services.db, {
      tenantId,
      mode: "test",
      scopes: ["orders:read"],
      expiresAt: new Date(now.getTime() + 60_000),
    });
    const v = verifier(t.services.db, { clock: { now: () => now } });
    try {
      await v.verify(apiKey);
      await v.verify(apiKey);
      expect(v.recentlyVerified(apiKey)?.keyId).toBe(key.id);
      now = new Date(now.getTime() + 60_000);
      expect(v.recentlyVerified(apiKey)).toBeNull();
      expect(await v.verify(apiKey)).toBeNull();
    } finally {
      await v.close();
    }
  });

  it("keeps no more verified key strings than entries", async () => {
    const { tenantId } = await t.newTenant();
    const keys = [await t.newKey(tenantId), await t.newKey(tenantId), await t.newKey(tenantId)];
    const v = verifier(t.services.db, { maxEntries: 2 });
    try {
      for (const { apiKey } of keys) {
        await v.verify(apiKey);
        await v.verify(apiKey);
      }
      const known = keys.filter(({ apiKey }) => v.recentlyVerified(apiKey) !== undefined);
      expect(known.map((k) => k.keyId)).toEqual([keys[1]!.keyId, keys[2]!.keyId]);
    } finally {
      await v.close();
    }
  });

  it("shares one lookup among concurrent verifications of the same key", async () => {
    const { apiKey } = await t.newTenant();
    const counted = countingDb(t.services.db);
    const v = verifier(counted.db);
    try {
      const results = await Promise.all(Array.from({ length: 10 }, () => v.verify(apiKey)));
      expect(results.every((r) => r !== null)).toBe(true);
      expect(counted.statements.filter((s) => s.includes("from api_keys k join tenants"))).toHaveLength(1);
    } finally {
      await v.close();
    }
  });

  it("with the cache off (TTL 0), looks every key up", async () => {
    const { apiKey } = await t.newTenant();
    const counted = countingDb(t.services.db);
    const v = verifier(counted.db, { ttlMs: 0 });
    try {
      for (let i = 0; i < 3; i++) await v.verify(apiKey);
      expect(counted.statements.filter((s) => s.includes("from api_keys k join tenants"))).toHaveLength(3);
    } finally {
      await v.close();
    }
  });

  it("catches a change whose NOTIFY never arrived on the next poll", async () => {
    const { tenantId } = await t.newTenant();
    const extra = await t.newKey(tenantId);
    // A database whose LISTEN delivers nothing: a listener that was reconnecting when the revocation happened.
    const deaf: Db = { ...t.services.db, listen: async () => async () => {} };
    const v = verifier(deaf);
    await v.start();
    try {
      expect(await v.verify(extra.apiKey)).not.toBeNull();
      await revokeApiKey(t.services.db, extra.keyId);
      expect(await v.verify(extra.apiKey)).not.toBeNull();
      await v.poll();
      expect(await v.verify(extra.apiKey)).toBeNull();
    } finally {
      await v.close();
    }
  });

  it("revokes on every instance within a second (two apps, each with its own cache and connection)", async () => {
    // Instance B: its own services, and on PostgreSQL its own connection pool and LISTEN connection.
    const dbB = kind === "postgres" ? await openPostgresDb(t.testDb.url!, { poolMax: 2 }) : t.services.db;
    const authB = await buildAuthServices(t.services.config, {
      db: dbB,
      logger: silent,
      clock: t.services.clock,
    });
    const servicesB: Services = { ...t.services, db: dbB, ...authB };
    const appB = createApp(servicesB);
    const requestB = (key: string) =>
      appB.request("http://cellvi.test/v1/orders", { headers: { authorization: `Bearer ${key}` } });
    try {
      const { apiKey } = await t.newTenant();
      const created = await (
        await t.request("/v1/keys", { method: "POST", key: apiKey, json: { name: "shared" } })
      ).json();
      // B has verified (and cached) the key.
      expect((await requestB(created.api_key)).status).toBe(200);
      expect((await requestB(created.api_key)).status).toBe(200);
      expect(authB.keyVerifier.stats.hits).toBeGreaterThan(0);
      const revoked = await t.request(`/v1/keys/${created.id}/revoke`, { method: "POST", key: apiKey });
      expect(revoked.status).toBe(200);
      await vi.waitFor(async () => expect((await requestB(created.api_key)).status).toBe(401), {
        timeout: 1000,
        interval: 10,
      });
    } finally {
      await authB.close();
      if (dbB !== t.services.db) await dbB.close();
    }
  });

  it("drops a tenant's cached keys when its plan or limit changes", async () => {
    const { tenantId, apiKey } = await t.newTenant();
    const v = verifier(t.services.db);
    await v.start();
    try {
      expect((await v.verify(apiKey))?.plan).toBe("default");
      await setTenantRateLimit(t.services.db, tenantId, { plan: "growth", perMinute: 7 });
      await vi.waitFor(async () => {
        const verified = await v.verify(apiKey);
        expect(verified?.plan).toBe("growth");
        expect(verified?.rateLimitPerMinute).toBe(7);
      });
    } finally {
      await v.close();
    }
  });

  it("keeps last_used_at without a write per request: one batched statement per flush", async () => {
    const { tenantId } = await t.newTenant();
    const a = await t.newKey(tenantId);
    const b = await t.newKey(tenantId);
    const counted = countingDb(t.services.db);
    const auth = await buildAuthServices(t.services.config, {
      db: counted.db,
      logger: silent,
      clock: t.services.clock,
    });
    const app = createApp({ ...t.services, db: counted.db, ...auth });
    try {
      for (let i = 0; i < 30; i++) {
        const key = i % 2 === 0 ? a.apiKey : b.apiKey;
        const res = await app.request("http://cellvi.test/v1/orders", {
          headers: { authorization: `Bearer ${key}` },
        });
        expect(res.status).toBe(200);
      }
      const writes = () => counted.statements.filter((s) => /^update api_keys/i.test(s));
      expect(writes()).toHaveLength(0);
      const before = await t.services.db.query<{ last_used_at: Date | null }>(
        "select last_used_at from api_keys where id = any($1)",
        [[a.keyId, b.keyId]],
      );
      expect(before.rows.every((row) => row.last_used_at === null)).toBe(true);
      // The list already shows this instance's pending use.
      const listed = await (
        await app.request("http://cellvi.test/v1/keys", { headers: { authorization: `Bearer ${a.apiKey}` } })
      ).json();
      expect(listed.data.find((k: { id: string }) => k.id === a.keyId).last_used_at).not.toBeNull();

      expect(await auth.keyVerifier.flushUsage()).toBe(2);
      expect(writes()).toHaveLength(1);
      const after = await t.services.db.query<{ last_used_at: Date | null }>(
        "select last_used_at from api_keys where id = any($1)",
        [[a.keyId, b.keyId]],
      );
      expect(after.rows.every((row) => row.last_used_at instanceof Date)).toBe(true);
      // Nothing pending: the next flush writes nothing.
      expect(await auth.keyVerifier.flushUsage()).toBe(0);
      expect(writes()).toHaveLength(1);
    } finally {
      await auth.close();
    }
  });

  it("never moves last_used_at backwards when instances flush out of order", async () => {
    const { tenantId } = await t.newTenant();
    const key = await t.newKey(tenantId);
    const later = new Date("2030-01-02T00:00:00Z");
    const earlier = new Date("2030-01-01T00:00:00Z");
    await recordKeyUsage(t.services.db, new Map([[key.keyId, later]]));
    await recordKeyUsage(t.services.db, new Map([[key.keyId, earlier]]));
    const { rows } = await t.services.db.query<{ last_used_at: Date }>(
      "select last_used_at from api_keys where id = $1",
      [key.keyId],
    );
    expect(rows[0]!.last_used_at.toISOString()).toBe(later.toISOString());
  });

  it("writes pending uses when it closes", async () => {
    const { tenantId } = await t.newTenant();
    const key = await t.newKey(tenantId);
    const v = verifier(t.services.db);
    await v.start();
    v.recordUse(key.keyId);
    await v.close();
    const { rows } = await t.services.db.query<{ last_used_at: Date | null }>(
      "select last_used_at from api_keys where id = $1",
      [key.keyId],
    );
    expect(rows[0]!.last_used_at).toBeInstanceOf(Date);
  });
});
