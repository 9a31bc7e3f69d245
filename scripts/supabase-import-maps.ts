// Writes each Edge Function's deno.json: an import map from the bare names the shared code imports (`hono`,
// `zod`, ...) to `npm:` specifiers pinned at the versions package-lock.json installs. Supabase bundles a function
// with its own deno.json, so the deployed function resolves exactly the packages the tests ran with; CI runs the
// functions with the same file (and --node-modules-dir=manual, so nothing is downloaded there).
//
//   npx tsx scripts/supabase-import-maps.ts          rewrite the files
//   npx tsx scripts/supabase-import-maps.ts --check  exit 1 if a file is stale (after a dependency change)
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
export const edgeFunctions = ["api-gateway", "webhook-dispatcher"];

/** The deno.json text every Edge Function gets. */
export function renderImportMap(): string {
  const pkg = JSON.parse(readFileSync(`${root}package.json`, "utf8")) as {
    dependencies?: Record<string, string>;
  };
  const lock = JSON.parse(readFileSync(`${root}package-lock.json`, "utf8")) as {
    packages?: Record<string, { version?: string }>;
  };
  const imports: Record<string, string> = {};
  for (const name of Object.keys(pkg.dependencies ?? {}).sort()) {
    const version = lock.packages?.[`node_modules/${name}`]?.version;
    if (!version) throw new Error(`${name} is not in package-lock.json: run npm install first`);
    imports[name] = `npm:${name}@${version}`;
    // Subpath imports (`hono/factory`, `hono/cors`) resolve inside the same pinned package.
    imports[`${name}/`] = `npm:/${name}@${version}/`;
  }
  return `${JSON.stringify({ imports }, null, 2)}\n`;
}

export function importMapPath(functionName: string): string {
  return `${root}supabase/functions/${functionName}/deno.json`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const expected = renderImportMap();
  const check = process.argv.includes("--check");
  let stale = 0;
  for (const name of edgeFunctions) {
    const path = importMapPath(name);
    let current = "";
    try {
      current = readFileSync(path, "utf8");
    } catch {
      // Missing counts as stale.
    }
    if (current === expected) continue;
    if (check) {
      console.error(`stale: ${path} (run npx tsx scripts/supabase-import-maps.ts)`);
      stale += 1;
    } else {
      writeFileSync(path, expected);
      console.log(`wrote ${path}`);
    }
  }
  process.exitCode = stale > 0 ? 1 : 0;
}
