import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));

export interface ServerProcess {
  child: ChildProcess;
  port: number;
  /** Every JSON log line written so far. */
  logs: Record<string, unknown>[];
  /** Resolves with the first log line (already written or still to come) that matches. */
  waitForLog(
    predicate: (line: Record<string, unknown>) => boolean,
    what: string,
  ): Promise<Record<string, unknown>>;
  /** Resolves with the exit code once the process has ended. */
  exited: Promise<number | null>;
  /** SIGKILL if still running (for afterAll). */
  kill(): void;
}

/**
 * The service as a real child process, started as `npm start` starts it (scripts/start.js: the compiled
 * `src/server.ts`), on a free loopback port. Only the variables given are set, besides PATH and HOME: the test's
 * own environment (REDIS_URL, DATABASE_URL...) does not leak in.
 */
export async function startServerProcess(env: Record<string, string>): Promise<ServerProcess> {
  const child = spawn(process.execPath, ["scripts/start.js"], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? "/tmp",
      PORT: "0",
      HOST: "127.0.0.1",
      LOG_LEVEL: "info",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: Record<string, unknown>[] = [];
  const waiters: {
    predicate: (line: Record<string, unknown>) => boolean;
    resolve(line: Record<string, unknown>): void;
  }[] = [];
  let stderr = "";
  let buffered = "";
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
      for (const waiter of [...waiters]) {
        if (waiter.predicate(line)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    }
  });
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));

  const waitForLog = (predicate: (line: Record<string, unknown>) => boolean, what: string) => {
    const seen = logs.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      waiters.push({ predicate, resolve });
      exited.then((code) =>
        reject(new Error(`server exited (${code}) before logging ${what}; stderr: ${stderr.slice(-2000)}`)),
      );
    });
  };

  const listening = await waitForLog(
    (line) => typeof line.msg === "string" && line.msg.includes("listening on"),
    "that it listens",
  );
  return {
    child,
    port: Number(listening.port),
    logs,
    waitForLog,
    exited,
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}
