import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";

/**
 * PGlite serves one process per data directory: a second process opening it would corrupt it. This lock file
 * (holding the owner's pid) makes the second opener fail with a clear message instead; a lock left by a process that
 * died is taken over.
 */
export function lockFilePath(dataDir: string): string {
  return resolve(dataDir, "owner.pid");
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The pid holding the data directory, if that process is alive. */
export function currentOwner(dataDir: string): number | null {
  try {
    const pid = Number(readFileSync(lockFilePath(dataDir), "utf8").trim());
    return Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid) ? pid : null;
  } catch {
    return null;
  }
}

export function acquireDataDirLock(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const path = lockFilePath(dataDir);
  for (let attempt = 0; ; attempt++) {
    try {
      // "wx": create only if absent, so two processes starting together cannot both win.
      writeFileSync(path, String(process.pid), { mode: 0o600, flag: "wx" });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw error;
      const owner = currentOwner(dataDir);
      if (owner !== null) {
        throw new Error(
          `The embedded database in ${resolve(dataDir)} is in use by process ${owner}. Stop it first, or set DATABASE_URL to use a PostgreSQL server.`,
        );
      }
      rmSync(path, { force: true }); // left by a process that died
    }
  }
  return () => {
    try {
      if (readFileSync(path, "utf8").trim() === String(process.pid)) rmSync(path);
    } catch {
      // Already gone: nothing to release.
    }
  };
}
