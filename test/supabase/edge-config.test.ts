import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { edgeFunctions, importMapPath, renderImportMap } from "../../scripts/supabase-import-maps.ts";

// Supabase bundles each Edge Function with its own deno.json import map. A dependency added to package.json but
// missing there would break only the deployed function (CI's Deno run can still find it in node_modules), so the
// maps are generated from package.json and package-lock.json, and this test fails when they fall behind.
describe("Edge Function import maps", () => {
  it.each(edgeFunctions)(
    "%s/deno.json pins every runtime dependency at the installed version (else: npx tsx scripts/supabase-import-maps.ts)",
    (name) => {
      const committed = readFileSync(importMapPath(name), "utf8");
      expect(committed).toBe(renderImportMap());
      const { imports } = JSON.parse(committed) as { imports: Record<string, string> };
      expect(imports.hono).toMatch(/^npm:hono@\d+\.\d+\.\d+$/);
      expect(imports["hono/"]).toMatch(/^npm:\/hono@\d+\.\d+\.\d+\/$/);
    },
  );
});
