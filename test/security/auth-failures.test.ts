import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateApiKey } from "../../src/domain/keys/format.ts";
import { sharedRedisUrl, uniquePrefix } from "../ratelimit/limiters.ts";
import { createTestContext, type TestContext } from "../support/app.ts";

// The throttle on failed authentication, with the in-memory limiter and with the shared Redis (the one every
// instance counts in).
describe.each<{ limiter: string; env: Record<string, string> }>([
  { limiter: "memory", env: {} },
  { limiter: "redis", env: { REDIS_URL: sharedRedisUrl, RATE_LIMIT_REDIS_PREFIX: uniquePrefix() } },
])("failed authentication per client address ($limiter limiter)", ({ env }) => {
  let t: TestContext;
  let apiKey: string;
  let tenantId: string;
  beforeAll(async () => {
    t = await createTestContext("embedded", {
      env: { ...env, AUTH_FAILURE_LIMIT_PER_MINUTE: "3", TRUSTED_PROXY_HEADER: "x-forwarded-for" },
    });
    ({ apiKey, tenantId } = await t.newTenant());
  });
  afterAll(() => t?.close());

  const from = (address: string, key: string) =>
    t.request("/v1/whoami", { key, headers: { "x-forwarded-for": address } });

  it("answers 401 up to the budget, then 429 without looking keys up, and spares other addresses", async () => {
    // A key this address used successfully a moment ago (in the verification cache).
    expect((await from("203.0.113.10", apiKey)).status).toBe(200);

    for (let i = 0; i < 3; i++) {
      const res = await from("203.0.113.10", generateApiKey("test"));
      expect(res.status).toBe(401);
    }
    const over = await from("203.0.113.10", generateApiKey("test"));
    expect(over.status).toBe(429);
    expect(over.headers.get("content-type")).toContain("application/problem+json");
    expect(Number(over.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(over.headers.get("ratelimit-policy")).toBe('"auth-failures";q=3;w=60');
    const problem = (await over.json()) as { code: string; detail: string };
    expect(problem.code).toBe("quota_exceeded");
    expect(problem.detail).toMatch(/fail authentication 3 times per 60 s/);

    // Blocked: another made-up key is refused before any lookup (the verifier's misses do not move).
    const missesBefore = t.services.keyVerifier.stats.misses;
    const blocked = await from("203.0.113.10", generateApiKey("test"));
    expect(blocked.status).toBe(429);
    expect(blocked.headers.get("content-type")).toContain("application/problem+json");
    expect(blocked.headers.get("ratelimit-policy")).toBe('"auth-failures";q=3;w=60');
    expect(((await blocked.json()) as { code: string }).code).toBe("quota_exceeded");
    expect(t.services.keyVerifier.stats.misses).toBe(missesBefore);

    // The cached key still works from that address; a key not yet cached waits for the window, like any lookup.
    expect((await from("203.0.113.10", apiKey)).status).toBe(200);
    const { apiKey: newKey } = await t.newKey(tenantId);
    expect((await from("203.0.113.10", newKey)).status).toBe(429);

    // Another address is not affected, and may use the new key.
    expect((await from("198.51.100.7", generateApiKey("test"))).status).toBe(401);
    expect((await from("198.51.100.7", newKey)).status).toBe(200);
  });

  it("does not count malformed keys or missing keys (rejected before any lookup)", async () => {
    for (let i = 0; i < 5; i++) {
      expect((await from("192.0.2.44", "cvk_test_not-a-real-key")).status).toBe(401);
      const missing = await t.request("/v1/whoami", { headers: { "x-forwarded-for": "192.0.2.44" } });
      expect(missing.status).toBe(401);
    }
    expect((await from("192.0.2.44", generateApiKey("test"))).status).toBe(401);
  });
});
