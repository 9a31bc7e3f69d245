/** The command line of a bench tool: `--name value` options and `--flag` switches. */
const argv = process.argv.slice(2);

/** The value after `--name`, or `fallback` when the option is absent (or has no value). */
export function option(name: string, fallback: string): string {
  const index = argv.indexOf(`--${name}`);
  return index >= 0 ? (argv[index + 1] ?? fallback) : fallback;
}

/** Whether `--name` was given. */
export function flag(name: string): boolean {
  return argv.includes(`--${name}`);
}

/** `--before DIR --after DIR` of a tool that compares two checkouts, both required. */
export function twoCheckouts(): { before: string; after: string } {
  const dirs = { before: option("before", ""), after: option("after", "") };
  if (!dirs.before || !dirs.after) throw new Error("--before DIR --after DIR: two checkouts (git worktrees)");
  return dirs;
}
