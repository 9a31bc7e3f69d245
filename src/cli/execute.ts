import { parseArgs } from "node:util";
import type { Services } from "../services.ts";
import { type CliCommand, CliError, findCommand, usage } from "./commands.ts";

export interface CliOutcome {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface ParsedInvocation {
  command: CliCommand;
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** Resolves argv to a command and its parsed options, or throws a CliError with usage. */
export function parseInvocation(argv: string[]): ParsedInvocation {
  const found = findCommand(argv);
  if (!found) throw new CliError(`Unknown command: ${argv.join(" ") || "(none)"}\n\n${usage()}`);
  try {
    const parsed = parseArgs({
      args: found.rest,
      options: found.command.options,
      allowPositionals: true,
      strict: true,
    });
    return {
      command: found.command,
      values: parsed.values as Record<string, string | boolean | undefined>,
      positionals: parsed.positionals,
    };
  } catch (error) {
    throw new CliError(`${(error as Error).message}\nUsage: cellvi-connect ${found.command.usage}`);
  }
}

/** Runs a command against the given services. The CLI and the running service's local channel both call this. */
export async function executeCommand(services: Services, argv: string[]): Promise<CliOutcome> {
  try {
    const invocation = parseInvocation(argv);
    const result = await invocation.command.run(services, {
      values: invocation.values,
      positionals: invocation.positionals,
    });
    const stdout = invocation.values.json ? `${JSON.stringify(result.json)}\n` : `${result.text}\n`;
    return { exitCode: 0, stdout, stderr: "" };
  } catch (error) {
    if (error instanceof CliError)
      return { exitCode: error.exitCode, stdout: "", stderr: `${error.message}\n` };
    services.logger.error({ err: error, argv: argv.slice(0, 2) }, "cli command failed");
    return { exitCode: 1, stdout: "", stderr: `Error: ${(error as Error).message}\n` };
  }
}
