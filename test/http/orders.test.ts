import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, orderBody, type TestContext } from "../support/app.ts";
import { dbKinds } from "../support/db.ts";

describe.each(dbKinds)("orders on %s", (kind) => {
  let t: TestContext;
  let key: string;
  beforeAll(async () => {
    t = await createTestContext(kind);
    key = (await t.newTenant()).apiKey;
  });
  afterAll(() => t.close());

  it("creates an order and tracks it", async () => {
    const res = await t.request("/v1/orders/create", { method: "POST", key, json: orderBody() });
    expect(res.status).toBe(201);
    const order = await res.json();
    expect(order.status).toBe("CREATED");
    const track = await t.request(`/v1/tracking/${order.tracking_number}?token=${order.tracking_token}`);
    expect(track.status).toBe(200);
    const view = await track.json();
    expect(view.history).toHaveLength(1);
  });
});
