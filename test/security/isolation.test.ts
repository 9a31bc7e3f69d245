import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allScopes } from "../../src/domain/keys/scopes.ts";
import { createTestContext, orderBody, type TestContext } from "../support/app.ts";
import {
  type AppOperation,
  appOperations,
  familyOfCollection,
  familyOfParam,
  fillPath,
} from "./app-operations.ts";

/**
 * How to make one row of each family that no POST of the API creates directly; the crawl below then finds it.
 * A new id route whose family neither a POST nor this list produces makes the matrix fail with its name.
 */
const systemMadeRows: Record<
  string,
  (t: TestContext, key: string, resources: Map<string, Record<string, unknown>>) => Promise<void>
> = {
  // A test event to A's subscription queues a delivery.
  deliveries: async (t, key, resources) => {
    const webhook = resources.get("webhooks");
    if (webhook) await t.request(`/v1/webhooks/${webhook.id}/test`, { method: "POST", key, json: {} });
  },
};

/**
 * Tenant isolation, derived from the app: every keyed route that takes an id is tried by another tenant (and by
 * the other mode of the same tenant) against a real resource, and every keyed list is searched for rows it must
 * not show. Routes added later join the matrix by themselves.
 */
describe("tenant isolation matrix", () => {
  let t: TestContext;
  let operations: AppOperation[];
  let keyed: AppOperation[];
  const keys = { aTest: "", aLive: "", bTest: "", bLive: "" };
  /** One real resource of tenant A (test mode) per family, and the ids and tracking numbers of all of A's rows. */
  const aResources = new Map<string, Record<string, unknown>>();
  const aTestIds = new Set<string>();
  const aLiveIds = new Set<string>();

  async function send(op: AppOperation, key: string, values: Record<string, string>): Promise<Response> {
    const query = new URLSearchParams(op.requiredQuery).toString();
    const path = fillPath(op.path, values) + (query ? `?${query}` : "");
    return t.request(path, {
      method: op.method,
      key,
      ...(op.takesJson ? { json: op.exampleBody } : {}),
    });
  }

  async function seed(key: string, into: Set<string>, byFamily?: Map<string, Record<string, unknown>>) {
    for (const op of keyed) {
      if (op.method !== "POST" || op.params.length > 0) continue;
      const res = await send(op, key, {});
      if (res.status >= 300) continue;
      const body = (await res.json()) as Record<string, unknown>;
      if (typeof body.id !== "string") continue;
      into.add(body.id);
      // external_id is the example's own value in both modes: ids and tracking numbers are what must not leak.
      for (const field of ["tracking_number"]) {
        if (typeof body[field] === "string") into.add(body[field] as string);
      }
      const family = familyOfCollection(op.path);
      if (byFamily && !byFamily.has(family)) byFamily.set(family, body);
    }
  }

  beforeAll(async () => {
    t = await createTestContext("embedded", { env: { WEBHOOK_ALLOW_PRIVATE_URLS: "true" } });
    operations = appOperations(t.app);
    keyed = [];
    for (const op of operations) {
      // Keyed means: without a key, 401. Whatever else it does, a public route does not count.
      const res = await t.request(fillPath(op.path, {}), { method: op.method });
      if (res.status === 401) keyed.push(op);
    }
    const a = await t.newTenant({ name: "Tenant A" });
    const b = await t.newTenant({ name: "Tenant B" });
    keys.aTest = (await t.newKey(a.tenantId, { scopes: [...allScopes] })).apiKey;
    keys.aLive = (await t.newKey(a.tenantId, { mode: "live", scopes: [...allScopes] })).apiKey;
    keys.bTest = (await t.newKey(b.tenantId, { scopes: [...allScopes] })).apiKey;
    keys.bLive = (await t.newKey(b.tenantId, { mode: "live", scopes: [...allScopes] })).apiKey;
    await seed(keys.aTest, aTestIds, aResources);
    await seed(keys.aLive, aLiveIds);
    // Rows the system makes rather than a POST (webhook deliveries...): one more order now that every seeded
    // subscription exists, then each nested list of A's resources (`/things/:id/children`) names its family.
    await t.request("/v1/orders", { method: "POST", key: keys.aTest, json: orderBody() });
    for (const make of Object.values(systemMadeRows)) await make(t, keys.aTest, aResources);
    for (const op of keyed) {
      const nested = /\/:[A-Za-z0-9_]+\/([a-z][a-z0-9_-]*)$/.exec(op.path);
      if (op.method !== "GET" || op.params.length !== 1 || !nested || aResources.has(nested[1]!)) continue;
      const values = valuesFor(op);
      if (!values) continue;
      const res = await send(op, keys.aTest, values);
      if (res.status !== 200) continue;
      const first = ((await res.json()) as { data?: Record<string, unknown>[] }).data?.[0];
      if (first && typeof first.id === "string") {
        aResources.set(nested[1]!, first);
        aTestIds.add(first.id);
      }
    }
  });
  afterAll(() => t.close());

  function valuesFor(op: AppOperation): Record<string, string> | null {
    const family = familyOfParam(op.path);
    const resource = family ? aResources.get(family) : undefined;
    if (!resource) return null;
    const values: Record<string, string> = {};
    op.params.forEach((param, i) => {
      if (i === 0) values[param] = String(resource.id);
      else if (/tracking/.test(param) && typeof resource.tracking_number === "string")
        values[param] = resource.tracking_number;
      // Any further id (a delivery of a subscription...) is a well-formed id that is not A's either.
      else values[param] = "00000000-0000-4000-8000-000000000000";
    });
    return values;
  }

  it("finds the keyed routes and real resources to aim at", () => {
    expect(keyed.length).toBeGreaterThanOrEqual(10);
    expect(keyed.some((op) => op.path === "/v1/keys/:id/revoke")).toBe(true);
    expect(keyed.some((op) => op.path === "/v1/orders/:id")).toBe(true);
    expect([...aResources.keys()]).toEqual(expect.arrayContaining(["orders", "keys"]));
  });

  it("answers 404, never 403 or a success, to another tenant and to the other mode, for every id route", async () => {
    const checked: string[] = [];
    const uncovered: string[] = [];
    const excused: string[] = [];
    for (const op of keyed.filter((o) => o.params.length > 0)) {
      const values = valuesFor(op);
      if (!values) {
        uncovered.push(`${op.method} ${op.path}`);
        continue;
      }
      const nowhere = Object.fromEntries(
        op.params.map((param) => [param, "00000000-0000-4000-8000-00000000dead"]),
      );
      for (const [who, key] of [
        ["tenant B (test)", keys.bTest],
        ["tenant B (live)", keys.bLive],
        ["tenant A's own live key", keys.aLive],
      ] as const) {
        const res = await send(op, key, values);
        const label = `${op.method} ${op.path} as ${who}`;
        expect(res.headers.get("content-type"), label).toBe("application/problem+json");
        const text = await res.text();
        const problem = JSON.parse(text);
        if (res.status !== 404) {
          // Only acceptable when the refusal does not depend on the resource at all (an invalid example body, an
          // endpoint closed to this mode): the answer for A's resource must be exactly the one for an id that
          // exists nowhere, so it reveals nothing.
          expect([400, 403], label).toContain(res.status);
          const controlRes = await send(op, key, nowhere);
          const control = await controlRes.json();
          expect(controlRes.status, label).toBe(res.status);
          expect([problem.code, problem.errors, problem.detail], label).toEqual([
            control.code,
            control.errors,
            control.detail,
          ]);
          excused.push(`${label}: ${res.status} ${problem.code}`);
        } else {
          expect(problem.code, label).toBe("not_found");
        }
        // Not even an echo of the resource in the error.
        for (const field of ["external_id", "tracking_number", "name"]) {
          const value = aResources.get(familyOfParam(op.path)!)?.[field];
          if (typeof value === "string" && value.length > 3) expect(text, label).not.toContain(value);
        }
      }
      checked.push(`${op.method} ${op.path}`);
    }
    expect(checked.length).toBeGreaterThanOrEqual(5);
    // Most must have been answered 404 outright, not excused by a refusal that ignores the resource.
    expect(excused.length, excused.join("\n")).toBeLessThan(checked.length);
    // Every id route must be aimed at a real resource of its family, or the matrix would prove nothing for it.
    expect(uncovered).toEqual([]);
  });

  it("lets the owner reach the very resources the others could not (the matrix aims at real rows)", async () => {
    for (const op of keyed.filter((o) => o.method === "GET" && o.params.length === 1)) {
      const values = valuesFor(op);
      if (!values) continue;
      const res = await send(op, keys.aTest, values);
      expect(res.status, `${op.method} ${op.path} as tenant A`).toBe(200);
    }
  });

  it("never lists another tenant's rows, nor live rows to a test key (or the reverse)", async () => {
    const lists = keyed.filter((op) => op.method === "GET" && op.params.length === 0);
    expect(lists.map((op) => op.path)).toEqual(expect.arrayContaining(["/v1/orders", "/v1/keys"]));
    for (const op of lists) {
      const asB = await (await send(op, keys.bTest, {})).text();
      const asBLive = await (await send(op, keys.bLive, {})).text();
      const asALive = await (await send(op, keys.aLive, {})).text();
      const asATest = await (await send(op, keys.aTest, {})).text();
      for (const id of aTestIds) {
        expect(asB, `${op.path} as B`).not.toContain(id);
        expect(asBLive, `${op.path} as B live`).not.toContain(id);
        expect(asALive, `${op.path} as A live`).not.toContain(id);
      }
      for (const id of aLiveIds) {
        expect(asB, `${op.path} as B`).not.toContain(id);
        expect(asATest, `${op.path} as A test`).not.toContain(id);
      }
    }
    // And the owner does see them, so the searches above could have found them.
    const own = await (await t.request("/v1/orders", { key: keys.aTest })).text();
    expect(own).toContain(String(aResources.get("orders")!.id));
  });

  it("left tenant A's resources untouched by all those attempts", async () => {
    const order = await t.request(`/v1/orders/${aResources.get("orders")!.id}`, { key: keys.aTest });
    expect(order.status).toBe(200);
    expect((await order.json()).status).toBe(aResources.get("orders")!.status);
    const key = aResources.get("keys")!;
    expect(key.status).toBe("active");
    expect((await t.request("/v1/orders", { key: String(key.api_key) })).status).toBe(200);
  });
});
