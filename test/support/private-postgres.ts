import { execFile } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";

const run = promisify(execFile);

/** The newest PostgreSQL server binaries installed (Debian puts them under /usr/lib/postgresql/<major>/bin). */
export function postgresBinDir(): string {
  const base = "/usr/lib/postgresql";
  const versions = readdirSync(base)
    .filter((entry) => existsSync(join(base, entry, "bin", "pg_ctl")))
    .sort((a, b) => Number(b) - Number(a));
  if (!versions[0]) throw new Error(`no PostgreSQL server binaries under ${base}`);
  return join(base, versions[0], "bin");
}

/** A loopback port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address !== "object") throw new Error("no port");
  return address.port;
}

export interface PrivatePostgres {
  port: number;
  /** Connection URL of a database on this instance (`postgres` by default). */
  url(database?: string): string;
  createDatabase(name: string): Promise<void>;
  /** Stops the server: `fast` ends sessions cleanly, `immediate` is a crash without a clean shutdown. */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  start(): Promise<void>;
  /** Stops it (if running) and deletes its files. */
  destroy(): Promise<void>;
}

/**
 * A PostgreSQL server of our own, for outage tests that stop and start it: a fresh cluster (initdb) in a temporary
 * folder, on its own loopback port and socket folder, never the machine's shared instance. PostgreSQL refuses to
 * run as root, so under root the binaries run as the `postgres` user.
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = postgresBinDir();
  const dir = mkdtempSync(join(tmpdir(), "cellvi-pg-"));
  const dataDir = join(dir, "data");
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const { stdout } = await run("id", ["-u", "postgres"]);
    const { stdout: gid } = await run("id", ["-g", "postgres"]);
    chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const exec = (tool: string, args: string[]) =>
    asRoot ? run("runuser", ["-u", "postgres", "--", join(bin, tool), ...args]) : run(join(bin, tool), args);
  const port = await freePort();

  await exec("initdb", ["-D", dataDir, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"]);
  const serverOptions = [
    `-p ${port}`,
    "-c listen_addresses=127.0.0.1",
    `-c unix_socket_directories=${dir}`,
    "-c fsync=off",
    "-c max_connections=100",
  ].join(" ");
  let running = false;
  const start = async () => {
    await exec("pg_ctl", [
      "-D",
      dataDir,
      "-o",
      serverOptions,
      "-l",
      join(dir, "server.log"),
      "-w",
      "-t",
      "60",
      "start",
    ]);
    running = true;
  };
  const stop = async (mode: "fast" | "immediate" = "fast") => {
    await exec("pg_ctl", ["-D", dataDir, "-m", mode, "-w", "-t", "60", "stop"]);
    running = false;
  };
  await start();
  const url = (database = "postgres") => `postgres://postgres@127.0.0.1:${port}/${database}`;
  return {
    port,
    url,
    async createDatabase(name) {
      const client = new pg.Client({ connectionString: url() });
      await client.connect();
      try {
        await client.query(`create database ${pg.escapeIdentifier(name)}`);
      } finally {
        await client.end();
      }
    },
    stop,
    start,
    async destroy() {
      if (running) await stop("immediate").catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
