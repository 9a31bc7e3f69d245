import { fileURLToPath } from "node:url";

/**
 * The checkout's root directory, for the files the service reads at run time (migrations, portal guides and
 * assets). This module runs from `src/` (tsx, vitest, the CLI, Deno's Edge Functions) and, bundled, from `dist/`
 * (`npm start`, see scripts/build.js): both sit one level below the root, so one relative URL serves both. Nothing
 * else locates files through its own `import.meta.url`, which a bundle would change.
 */
const rootUrl = new URL("../", import.meta.url);

/** An absolute path from one relative to the root: `projectPath("supabase/migrations/")`. */
export function projectPath(relative: string): string {
  return fileURLToPath(new URL(relative, rootUrl));
}
