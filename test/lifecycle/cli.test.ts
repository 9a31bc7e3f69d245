import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CliError, findCommand } from "../../src/cli/commands.ts";
import { createTestContext, type TestContext } from "../support/app.ts";
import { dbKinds } from "../support/db.ts";

describe.each(dbKinds)("CLI: tenants nearby-radius on %s", (kind) => {
  let t: TestContext;
  let tenantId: string;
  beforeAll(async () => {
    t = await createTestContext(kind, { env: { NEARBY_RADIUS_M: "800" } });
    tenantId = (await t.newTenant()).tenantId;
  });
  afterAll(() => t.close());

  const run = (values: Record<string, string | boolean>) => {
    const found = findCommand(["tenants", "nearby-radius"]);
    if (!found) throw new Error("command not registered");
    return found.command.run(t.services, { values: { tenant: tenantId, ...values }, positionals: [] });
  };

  it("shows the service default, sets the tenant's own radius, and goes back to the default", async () => {
    expect((await run({})).json).toEqual({
      tenant: { id: tenantId },
      nearby_radius_m: 800,
      source: "default",
    });
    expect((await run({ meters: "350" })).json).toMatchObject({ nearby_radius_m: 350, source: "tenant" });
    expect((await run({})).json).toMatchObject({ nearby_radius_m: 350, source: "tenant" });
    expect((await run({ default: true })).json).toMatchObject({ nearby_radius_m: 800, source: "default" });
  });

  it("refuses radii out of range, both options at once, and unknown tenants", async () => {
    await expect(run({ meters: "5" })).rejects.toThrow(CliError);
    await expect(run({ meters: "lots" })).rejects.toThrow(CliError);
    await expect(run({ meters: "100", default: true })).rejects.toThrow(CliError);
    await expect(run({ tenant: "00000000-0000-4000-8000-000000000000" })).rejects.toThrow(/No tenant/);
    expect((await run({})).json).toMatchObject({ source: "default" });
  });
});
