import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app.ts";
import { allScopes } from "../../src/domain/keys/scopes.ts";
import { errorCodes } from "../../src/http/problem.ts";
import { createTestContext, orderBody, type TestContext } from "../support/app.ts";
import {
  type AppOperation,
  appOperations,
  familyOfCollection,
  familyOfParam,
  fillPath,
} from "./app-operations.ts";

/** Generated bodies per JSON endpoint (the issue asks for at least 5,000). */
const runsPerEndpoint = 5000;
/** Writes that take no body (revoke, test, poll...) only need to show they ignore or refuse one. */
const runsPerBodylessWrite = 200;

/** Bodies near the documented example: fields dropped, replaced by any JSON, or added. */
function mutatedExample(example: unknown): fc.Arbitrary<unknown> {
  if (!example || typeof example !== "object" || Array.isArray(example)) return fc.jsonValue();
  const record = example as Record<string, unknown>;
  const keys = Object.keys(record);
  return fc
    .tuple(
      fc.subarray(keys),
      fc.dictionary(
        fc.constantFrom(...keys, "extra", "__proto__", "constructor"),
        fc.jsonValue({ maxDepth: 3 }),
        {
          maxKeys: 3,
        },
      ),
    )
    .map(([kept, replaced]) => {
      const body: Record<string, unknown> = {};
      for (const key of kept) body[key] = record[key];
      for (const [key, value] of Object.entries(replaced)) body[key] = value;
      return body;
    });
}

/** Raw request bodies: valid JSON of any shape, the example bent out of shape, and text that is not JSON. */
function bodies(example: unknown): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: mutatedExample(example).map((value) => JSON.stringify(value) ?? "null") },
    { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value) ?? "null") },
    { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        "",
        "{",
        "[",
        '{"a":',
        "nul",
        "{}garbage",
        '"\\ud800"',
        `${"[".repeat(5000)}${"]".repeat(5000)}`,
        JSON.stringify({ n: 1e308, m: -1e308, s: "\u0000" }),
      ),
    },
  );
}

/**
 * Documented examples point at example.com; a resource seeded with such a URL (a webhook subscription) would make
 * every generated call that sends to it wait on a network that is not there. A closed loopback port refuses at once.
 */
function toLocalSink(value: unknown): unknown {
  if (typeof value === "string")
    return value.replace(/^https?:\/\/(www\.)?example\.com(?=[/:]|$)/, "http://127.0.0.1:9");
  if (Array.isArray(value)) return value.map(toLocalSink);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, toLocalSink(inner)]));
  }
  return value;
}

describe("generated bodies against every JSON endpoint", () => {
  let t: TestContext;
  let key: string;
  let operations: AppOperation[];
  const resources = new Map<string, Record<string, unknown>>();

  beforeAll(async () => {
    t = await createTestContext("embedded", {
      env: { RATE_LIMIT_PER_MINUTE: "1000000", WEBHOOK_ALLOW_PRIVATE_URLS: "true" },
    });
    const tenant = await t.newTenant();
    key = (await t.newKey(tenant.tenantId, { scopes: [...allScopes] })).apiKey;
    operations = appOperations(t.app).filter((op) => op.takesJson);
    // Real resources to aim id routes at, so generated bodies reach the code behind the lookups.
    await t.request("/v1/orders", { method: "POST", key, json: orderBody() });
    for (const op of operations) {
      if (op.method !== "POST" || op.params.length > 0) continue;
      const res = await t.request(op.path, { method: "POST", key, json: toLocalSink(op.exampleBody) });
      if (res.status >= 300) continue;
      const body = (await res.json()) as Record<string, unknown>;
      const family = familyOfCollection(op.path);
      if (typeof body.id === "string" && !resources.has(family)) resources.set(family, body);
    }
  });
  afterAll(() => t.close());

  it("covers the app's JSON endpoints, derived from its routes", () => {
    const paths = operations.filter((op) => op.jsonEndpoint).map((op) => `${op.method} ${op.path}`);
    expect(paths).toEqual(
      expect.arrayContaining(["POST /v1/orders", "POST /v1/keys", "POST /v1/keys/:id/rotate"]),
    );
  });

  // One test per endpoint, listed when the file loads: a throwaway app (no database needed to read its routes).
  const discovered = appOperations(createApp({} as Parameters<typeof createApp>[0])).filter(
    (op) => op.takesJson,
  );

  it.each(discovered.map((op) => [`${op.method} ${op.path}`, op] as const))(
    "%s: never a 5xx, every 4xx is problem+json",
    async (_label, op) => {
      const family = familyOfParam(op.path);
      const target = family ? resources.get(family) : undefined;
      const values = Object.fromEntries(
        op.params.map((param, i) => [
          param,
          i === 0 && target ? String(target.id) : "00000000-0000-4000-8000-000000000000",
        ]),
      );
      const query = new URLSearchParams(op.requiredQuery).toString();
      const url = `http://cellvi.test${fillPath(op.path, values)}${query ? `?${query}` : ""}`;
      const runs = op.jsonEndpoint ? runsPerEndpoint : runsPerBodylessWrite;
      const seen = new Map<number, number>();
      await fc.assert(
        fc.asyncProperty(bodies(op.exampleBody), async (body) => {
          const res = await t.app.request(url, {
            method: op.method,
            headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
            body,
          });
          seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
          const text = await res.text();
          expect(res.status, text).toBeLessThan(500);
          if (res.status >= 400) {
            expect(res.headers.get("content-type")).toBe("application/problem+json");
            const problem = JSON.parse(text);
            expect(errorCodes).toContain(problem.code);
            expect(problem.status).toBe(res.status);
            expect(problem.request_id).toMatch(/\S/);
          }
        }),
        { numRuns: runs },
      );
      const total = [...seen.values()].reduce((sum, count) => sum + count, 0);
      expect(total).toBeGreaterThanOrEqual(runs);
    },
    600_000,
  );
});
