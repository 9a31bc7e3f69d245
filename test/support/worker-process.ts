import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { waitFor } from "../webhooks/support.ts";
import { testSealingKey } from "./app.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));

export interface WorkerProcess {
  child: ChildProcess;
  /** Everything it wrote so far, stdout and stderr together. */
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The `--json` summary it prints on SIGTERM (its dispatcher's counters), once it has exited. */
  summary(): Record<string, unknown>;
}

/**
 * The webhook dispatcher as its own process (`cli worker --json`), on a private database, with short timings for
 * tests: attempts time out after 1 s and claims are leased for 2 s unless `env` says otherwise. Only the variables
 * given are set, besides PATH and HOME. Resolves once it says it runs.
 */
export async function startWorkerProcess(
  databaseUrl: string,
  env: Record<string, string> = {},
): Promise<WorkerProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "worker", "--json"], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? "/tmp",
      DATABASE_URL: databaseUrl,
      CONNECTOR_ENCRYPTION_KEY: testSealingKey,
      LOG_LEVEL: "warn",
      WEBHOOK_ALLOW_PRIVATE_URLS: "true",
      WEBHOOK_TIMEOUT: "1s",
      // Short leases, so a dead worker's deliveries come back within the test.
      WEBHOOK_LEASE: "2s",
      WEBHOOK_POLL_INTERVAL: "500ms",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  let stdout = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    output += chunk.toString();
    stdout += chunk.toString();
  });
  child.stderr!.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`the worker exited at start: ${output.slice(-2000)}`);
      return output.includes("webhook worker");
    },
    "the worker to start",
    30_000,
  );
  return {
    child,
    output: () => output,
    exited,
    summary: () => JSON.parse(stdout.trim().split("\n").pop()!) as Record<string, unknown>,
  };
}
