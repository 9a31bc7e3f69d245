// Types of scripts/build.js (plain JavaScript: it runs before anything can load TypeScript).

export interface Manifest {
  /** File name of the bundled server in dist/. */
  entry: string;
  /** When the build began (ms): a source modified after it makes the build stale. */
  startedAt: number;
  /** Every file bundled (paths relative to the root), tsconfig.json and scripts/build.js. */
  inputs: string[];
  /** Every file written (names in dist/). */
  outputs: string[];
}

export function buildServer(): Promise<Manifest>;

export function builtServer(options?: { evenIfStale?: boolean }): string | null;
