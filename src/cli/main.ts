import { buildServices } from "../bootstrap.ts";
import { loadConfig } from "../config.ts";
import { forwardToServer, readServerInfo } from "../local/admin-channel.ts";
import { acquireDataDirLock, currentOwner } from "../local/data-dir-lock.ts";
import { CliError, usage } from "./commands.ts";
import { executeCommand, parseInvocation } from "./execute.ts";

/**
 * The operator CLI (`npm run cli -- ...`, or the `cellvi-connect` bin). With DATABASE_URL it connects to PostgreSQL
 * itself. On the embedded database it forwards the command to a running `npm start` (which owns the data
 * directory), or opens the directory itself when no service runs.
 */
async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === "help" || argv[0] === "--help" || argv[0] === "-h") {
    process.stdout.write(`${usage()}\n`);
    return argv.length === 0 ? 2 : 0;
  }
  const invocation = parseInvocation(argv);
  const config = loadConfig(process.env);

  if (!config.DATABASE_URL && !invocation.command.localOnly) {
    const info = readServerInfo(config.DATA_DIR);
    if (info && currentOwner(config.DATA_DIR) === info.pid) {
      const outcome = await forwardToServer(info, argv);
      if (outcome) {
        process.stdout.write(outcome.stdout);
        process.stderr.write(outcome.stderr);
        return outcome.exitCode;
      }
    }
  }

  const release = config.DATABASE_URL ? () => {} : acquireDataDirLock(config.DATA_DIR);
  try {
    const built = await buildServices(
      { ...config, LOG_LEVEL: config.LOG_LEVEL === "info" ? "warn" : config.LOG_LEVEL },
      // `migrate` reports what it applies, so it must find the work still to do.
      { migrate: invocation.command.name !== "migrate" },
    );
    try {
      const outcome = await executeCommand(built.services, argv);
      process.stdout.write(outcome.stdout);
      process.stderr.write(outcome.stderr);
      return outcome.exitCode;
    } finally {
      await built.close();
    }
  } finally {
    release();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `${error instanceof CliError ? error.message : String((error as Error).message ?? error)}\n`,
    );
    process.exitCode = error instanceof CliError ? error.exitCode : 1;
  },
);
