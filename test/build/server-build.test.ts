import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname } from "node:path";
import { describe, expect, it } from "vitest";
import { buildServer, builtServer } from "../../scripts/build.js";
import { projectPath } from "../../src/project-root.ts";

/** The packages the server loads only when first needed: they must not be imported by the bundle's entry. */
const loadedOnFirstUse = [
  "@electric-sql/pglite",
  "mdast-util-from-markdown",
  "micromark-extension-gfm",
  "hast-util-to-html",
  "yaml",
];

function staticImports(file: string): string[] {
  const source = readFileSync(projectPath(`dist/${file}`), "utf8");
  return [...source.matchAll(/^import\s[^;]*?from\s*"([^"]+)";?$|^import\s*"([^"]+)";?$/gm)].map(
    (match) => match[1] ?? match[2]!,
  );
}

describe("the production build (npm start)", () => {
  it("bundles src/server.ts into dist/, every file directly in it (src/project-root.ts relies on that)", async () => {
    const manifest = await buildServer();
    expect(manifest.inputs).toContain("src/server.ts");
    expect(manifest.inputs).toContain("src/project-root.ts");
    for (const output of manifest.outputs) {
      expect(basename(output)).toBe(output);
      expect(existsSync(projectPath(`dist/${output}`))).toBe(true);
    }
    expect(dirname(builtServer({ evenIfStale: true }) ?? "")).toBe(projectPath("dist"));
  });

  it("keeps PGlite, the Markdown renderers and YAML out of what loads at start", async () => {
    const manifest = await buildServer();
    // What the entry loads at start: its static imports, and theirs within the build.
    const loaded = new Set<string>();
    const pending = [manifest.entry];
    while (pending.length > 0) {
      for (const specifier of staticImports(pending.pop()!)) {
        if (loaded.has(specifier)) continue;
        loaded.add(specifier);
        if (specifier.startsWith("./")) pending.push(specifier.slice(2));
      }
    }
    expect(loaded).toContain("@hono/zod-openapi");
    for (const name of loadedOnFirstUse) expect(loaded).not.toContain(name);
    // ...and they are in the build, behind a dynamic import.
    const chunks = manifest.outputs.filter((output) => output.endsWith(".js"));
    const all = chunks.flatMap((chunk) => staticImports(chunk));
    for (const name of loadedOnFirstUse) expect(all).toContain(name);
  });

  it("starts Node without V8's memory reducer, a flag this Node accepts (docs/decisions/compiled-start.md)", () => {
    const manifest = JSON.parse(readFileSync(projectPath("package.json"), "utf8")) as {
      scripts: { start: string };
    };
    const [runner, ...args] = manifest.scripts.start.trim().split(/\s+/);
    expect(runner).toBe("node");
    // A V8 flag only works on the command line (V8 builds its reducer when the heap is set up), before the script.
    expect(args).toEqual(["--no-memory-reducer", "scripts/start.js"]);
    const run = spawnSync(process.execPath, ["--no-memory-reducer", "-e", "process.exit(0)"], {
      encoding: "utf8",
    });
    expect(run.status).toBe(0);
    expect(run.stderr).toBe("");
  });
});
