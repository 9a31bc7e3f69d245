// The production build of the Node service: src/server.ts bundled by esbuild into dist/ (git-ignored), so that
// `npm start` runs plain JavaScript instead of loading TypeScript through tsx, whose loader thread costs about
// 35 MiB of memory for the life of the process. `npm start` (scripts/start.js) runs this script first only when
// there is no build or a source file changed since; `npm run build` builds unconditionally (e.g. in an image).
//
// Plain JavaScript on purpose: it must run before anything can load TypeScript.
import { randomBytes } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { basename, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const outdir = join(root, "dist");
const manifestPath = join(outdir, "build.json");
const thisFile = fileURLToPath(import.meta.url);
/** Outputs no current build refers to are deleted after a day: a process started earlier may still load them. */
const keepReplacedMs = 24 * 60 * 60 * 1000;

/** @typedef {import("./build.d.ts").Manifest} Manifest dist/build.json, described in build.d.ts */

/** @returns {Manifest | null} */
function readManifest() {
  try {
    return JSON.parse(readFileSync(manifestPath, "utf8"));
  } catch {
    return null;
  }
}

/** @param {Manifest} manifest */
function isFresh(manifest) {
  try {
    for (const name of manifest.outputs) statSync(join(outdir, name));
    return manifest.inputs.every((input) => statSync(join(root, input)).mtimeMs < manifest.startedAt);
  } catch {
    // A missing input or output.
    return false;
  }
}

/**
 * Writes a file so that a reader never sees part of it: several processes may build at once (tests start servers
 * in parallel), and a running server may still load an older build's chunks.
 * @param {string} path
 * @param {Uint8Array | string} contents
 */
function writeAtomically(path, contents) {
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  writeFileSync(temporary, contents);
  renameSync(temporary, path);
}

/**
 * Bundles src/server.ts into dist/. Output names carry a hash of their contents, so a build never overwrites a
 * file another process may be reading, and the manifest, replaced in one rename, says which entry is current.
 * Every output lands directly in dist/, one level below the root like src/: src/project-root.ts relies on it.
 * Packages stay external (loaded from node_modules, as under tsx), and code splitting keeps dynamic imports lazy
 * (the embedded PGlite, the portal's Markdown renderers): without it their packages would load at start.
 * @returns {Promise<Manifest>}
 */
export async function buildServer() {
  const startedAt = Date.now();
  const esbuild = await import("esbuild");
  try {
    const result = await esbuild.build({
      absWorkingDir: root,
      entryPoints: { server: "src/server.ts" },
      bundle: true,
      splitting: true,
      format: "esm",
      platform: "node",
      target: "node20",
      packages: "external",
      outdir,
      entryNames: "[name]-[hash]",
      chunkNames: "chunk-[hash]",
      // `NODE_OPTIONS=--enable-source-maps npm start` maps stack traces back to src/ (off by default: it costs
      // memory and time on every stack trace).
      sourcemap: "linked",
      metafile: true,
      write: false,
      logLevel: "warning",
    });
    mkdirSync(outdir, { recursive: true });
    const outputs = [];
    for (const file of result.outputFiles) {
      const name = relative(outdir, file.path);
      if (name !== basename(name)) throw new Error(`build output outside dist/ itself: ${name}`);
      outputs.push(name);
      // The same name means the same contents (the hash), possibly written by a concurrent build.
      if (!existsSync(file.path)) writeAtomically(file.path, file.contents);
    }
    const entry = Object.entries(result.metafile.outputs).find(([, output]) => output.entryPoint)?.[0];
    if (!entry) throw new Error("the build produced no entry");
    const inputs = [...Object.keys(result.metafile.inputs), relative(root, thisFile)];
    // esbuild reads tsconfig.json's compiler options too (a checkout without one builds without it).
    if (existsSync(join(root, "tsconfig.json"))) inputs.push("tsconfig.json");
    /** @type {Manifest} */
    const manifest = { entry: basename(entry), startedAt, inputs, outputs };
    writeAtomically(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
    pruneReplaced(new Set([...outputs, basename(manifestPath)]));
    return manifest;
  } finally {
    await esbuild.stop();
  }
}

/** @param {Set<string>} current */
function pruneReplaced(current) {
  const now = Date.now();
  for (const name of readdirSync(outdir)) {
    if (current.has(name)) continue;
    const path = join(outdir, name);
    try {
      if (now - statSync(path).mtimeMs > keepReplacedMs) unlinkSync(path);
    } catch {
      // Deleted by a concurrent build.
    }
  }
}

/**
 * The bundled server's path; null if there is no build yet or a source changed since the last one (unless
 * `evenIfStale`).
 * @param {{ evenIfStale?: boolean }} [options]
 * @returns {string | null}
 */
export function builtServer(options = {}) {
  const manifest = readManifest();
  if (!manifest || !(options.evenIfStale || isFresh(manifest))) return null;
  return join(outdir, manifest.entry);
}

if (process.argv[1] && resolve(process.argv[1]) === thisFile) {
  const manifest = await buildServer();
  process.stderr.write(`built dist/${manifest.entry} from ${manifest.inputs.length} files\n`);
}
