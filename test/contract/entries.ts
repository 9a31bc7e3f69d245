import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const denoBinary = `${root}node_modules/.bin/deno`;

/** The entries a deployment starts: the Node server, or one of the two Supabase Edge Functions on Deno. */
export type Entry = "node-server" | "deno-api-gateway" | "deno-webhook-dispatcher";

export interface RunningEntry {
  entry: Entry;
  baseUrl: string;
  /** Every JSON log line the process wrote so far (stdout). */
  logs: Record<string, unknown>[];
  /** SIGTERM, then SIGKILL if it has not exited within a few seconds. Safe to call twice. */
  stop(): Promise<void>;
}

function command(entry: Entry): { file: string; args: string[] } {
  if (entry === "node-server") return { file: process.execPath, args: ["scripts/start.js"] };
  const name = entry === "deno-api-gateway" ? "api-gateway" : "webhook-dispatcher";
  return {
    file: denoBinary,
    args: [
      "run",
      // The packages npm installed, through the import map the deployment uses; --cached-only makes any attempt to
      // download something an error instead of a dependency on the network.
      "--node-modules-dir=manual",
      "--cached-only",
      `--config=supabase/functions/${name}/deno.json`,
      // What an Edge Function may do: network (database, Redis, receivers), its environment, reading its code.
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-sys",
      "--no-prompt",
      `supabase/functions/${name}/index.ts`,
    ],
  };
}

const startTimeoutMs = 60_000;
const stopTimeoutMs = 5_000;

/**
 * Starts an entry as a child process on a free loopback port (PORT=0; the port is read from its "listening" log
 * line), and resolves once it answers `readyPath` with a 2xx. Only the given variables reach it, besides PATH and
 * HOME, so the test's own environment cannot change what is being tested. Fails, and kills the process, if it is
 * not ready in time or exits first.
 */
export async function startEntry(
  entry: Entry,
  env: Record<string, string>,
  readyPath = "/readyz",
): Promise<RunningEntry> {
  const { file, args } = command(entry);
  const child: ChildProcess = spawn(file, args, {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? "/tmp",
      // Deno keeps its cache under DENO_DIR; a private one keeps runs independent of the user's cache.
      DENO_DIR: `${root}node_modules/.cache/deno`,
      NO_COLOR: "1",
      PORT: "0",
      HOST: "127.0.0.1",
      LOG_LEVEL: "info",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = "";
  let buffered = "";
  let onLine: ((line: Record<string, unknown>) => void) | undefined;
  child.stdout!.on("data", (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split("\n");
    buffered = parts.pop() ?? "";
    for (const text of parts) {
      if (!text.trim()) continue;
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        line = { msg: text, unparsed: true };
      }
      logs.push(line);
      onLine?.(line);
    }
  });
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => resolve(code));
    // Could not start at all (e.g. node_modules/.bin/deno missing: run npm ci).
    child.once("error", (error) => {
      stderr += `spawn ${file}: ${error.message}`;
      resolve(null);
    });
  });

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), stopTimeoutMs);
      await exited;
      clearTimeout(timer);
    })();
    return stopping;
  };

  const describeFailure = (why: string) =>
    new Error(
      `${entry} ${why}; stderr: ${stderr || "(empty)"}; last logs: ${JSON.stringify(logs.slice(-5))}`,
    );

  try {
    const port = await new Promise<number>((resolve, reject) => {
      const isListening = (line: Record<string, unknown>) =>
        typeof line.msg === "string" && line.msg.includes("listening on") && typeof line.port === "number";
      const seen = logs.find(isListening);
      if (seen) return resolve(seen.port as number);
      const timer = setTimeout(() => reject(describeFailure("did not listen in time")), startTimeoutMs);
      onLine = (line) => {
        if (!isListening(line)) return;
        clearTimeout(timer);
        resolve(line.port as number);
      };
      void exited.then((code) => {
        clearTimeout(timer);
        reject(describeFailure(`exited (${code}) before listening`));
      });
    });
    const baseUrl = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + startTimeoutMs;
    for (;;) {
      const response = await fetch(`${baseUrl}${readyPath}`).catch(() => undefined);
      if (response?.ok) break;
      await response?.body?.cancel();
      if (Date.now() > deadline) throw describeFailure(`was not ready (${readyPath}) in time`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return { entry, baseUrl, logs, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
