import { describe, expect, it } from "vitest";
import { createTestContext } from "../support/app.ts";
import { dbKinds } from "../support/db.ts";

describe.each(dbKinds)("health endpoints on %s", (kind) => {
  it("says the process is up, and ready only while the database answers", async () => {
    const t = await createTestContext(kind);
    const health = await t.request("/healthz");
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok" });
    const ready = await t.request("/readyz");
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: "ready", checks: { database: { ok: true } } });

    await t.close();
    const down = await t.request("/readyz");
    expect(down.status).toBe(503);
    const body = await down.json();
    expect(body.status).toBe("unavailable");
    expect(body.checks.database.ok).toBe(false);
    expect((await t.request("/healthz")).status).toBe(200);
  });
});
