import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { edgeFunctions, importMapPath, renderImportMap } from "../../scripts/supabase-import-maps.ts";

const supabaseDir = fileURLToPath(new URL("../../supabase/", import.meta.url));

/** `[functions.<name>]` tables of supabase/config.toml, with their `key = value` lines (strings, booleans, arrays). */
function functionSections(): Map<string, Record<string, unknown>> {
  const sections = new Map<string, Record<string, unknown>>();
  let current: Record<string, unknown> | undefined;
  for (const raw of readFileSync(`${supabaseDir}config.toml`, "utf8").split("\n")) {
    const line = raw.replace(/\s+#.*$/, "").trim();
    if (!line || line.startsWith("#")) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      const name = /^functions\.([a-z0-9-]+)$/.exec(header[1]!)?.[1];
      current = name ? {} : undefined;
      if (name && current) sections.set(name, current);
      continue;
    }
    const pair = /^([a-z_]+)\s*=\s*(.+)$/.exec(line);
    if (current && pair) current[pair[1]!] = JSON.parse(pair[2]!);
  }
  return sections;
}

describe("supabase/config.toml", () => {
  const sections = functionSections();

  it("configures exactly the function folders there are", () => {
    const folders = readdirSync(`${supabaseDir}functions`, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && !entry.name.startsWith("_"))
      .map((entry) => entry.name)
      .sort();
    expect([...sections.keys()].sort()).toEqual(folders);
    expect(folders).toEqual([...edgeFunctions].sort());
  });

  it.each([...functionSections().keys()])(
    "%s: no Supabase JWT check, and every path it names exists",
    (name) => {
      const section = sections.get(name)!;
      // The API authenticates its own keys and the dispatcher its own secret: a JWT check would refuse both.
      expect(section.verify_jwt).toBe(false);
      for (const key of ["entrypoint", "import_map"]) {
        expect(existsSync(`${supabaseDir}${section[key]}`), `${key} ${section[key]}`).toBe(true);
      }
      for (const pattern of (section.static_files as string[] | undefined) ?? []) {
        // Everything before the first wildcard is a directory that must exist and hold files.
        const base = pattern.slice(0, pattern.indexOf("*")).replace(/[^/]*$/, "");
        const files = readdirSync(`${supabaseDir}${base}`, { recursive: true });
        expect(files.length, pattern).toBeGreaterThan(0);
      }
    },
  );
});

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
