import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

export const root = fileURLToPath(new URL("../..", import.meta.url));

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address !== "object") throw new Error("no free port");
  return address.port;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it is true; throws after `limitMs`. */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  what: string,
  limitMs = 60_000,
  everyMs = 100,
): Promise<void> {
  const deadline = Date.now() + limitMs;
  const passes = () =>
    Promise.resolve()
      .then(check)
      .catch(() => false);
  while (!(await passes())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${limitMs} ms`);
    await sleep(everyMs);
  }
}

async function answers(url: string): Promise<boolean> {
  const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  await response.arrayBuffer();
  return response.ok;
}

export interface Managed {
  name: string;
  child: ChildProcess;
  port: number;
  stop(): Promise<number | null>;
}

function managed(name: string, child: ChildProcess, port: number): Managed {
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    name,
    child,
    port,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/**
 * The bare node:http server the gateway is compared with, or (`bench/framework-floor-server.mjs`) the same answer
 * from Hono on its Node adapter with no middleware.
 */
export async function startBaseline(
  script = "bench/baseline-server.mjs",
  extraArgs: string[] = [],
): Promise<Managed> {
  const port = await freePort();
  // A TypeScript server (bench/gateway-shape-server.ts) runs through tsx's loader; it only transpiles at load.
  const loader = script.endsWith(".ts") ? ["--import", "tsx"] : [];
  const child = spawn(process.execPath, [...loader, script, String(port), ...extraArgs], {
    cwd: root,
    stdio: ["ignore", "ignore", "inherit"],
  });
  await waitUntil(() => answers(`http://127.0.0.1:${port}/`), script);
  return managed("baseline", child, port);
}

/**
 * The Node arguments of a checkout's `npm start` (its package.json `start` script: `node scripts/start.js`, or
 * `tsx src/server.ts` in checkouts before the build step), so that the gateway process is Node itself, whose
 * memory and CPU the harness reads, and extra flags can go before the script.
 */
export function startArguments(gatewayRoot: string): string[] {
  const manifest = JSON.parse(readFileSync(`${gatewayRoot}/package.json`, "utf8")) as {
    scripts?: { start?: string };
  };
  const [runner, ...rest] = (manifest.scripts?.start ?? "").trim().split(/\s+/);
  if (runner === "node") return rest;
  if (runner === "tsx") return ["--import", "tsx", ...rest];
  throw new Error(`${gatewayRoot}/package.json: cannot run its start script (${manifest.scripts?.start})`);
}

/**
 * The gateway exactly as `npm start` runs it (see startArguments), with its JSON logs going to /dev/null: they
 * are still produced, serialised and written, as in production, but nobody reads them here. Extra Node flags
 * (`--cpu-prof`) come through `nodeFlags`.
 */
export async function startGateway(
  env: Record<string, string>,
  nodeFlags: string[] = [],
  gatewayRoot = root,
): Promise<Managed> {
  const port = await freePort();
  const child = spawn(process.execPath, [...nodeFlags, ...startArguments(gatewayRoot)], {
    cwd: gatewayRoot,
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? "/tmp",
      NODE_ENV: "production",
      HOST: "127.0.0.1",
      PORT: String(port),
      LOG_LEVEL: "info",
      ...env,
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  await waitUntil(() => answers(`http://127.0.0.1:${port}/readyz`), "the gateway", 120_000);
  return managed("gateway", child, port);
}

/** A webhook dispatcher process (`cli worker`), as production runs extra workers; `nodeFlags` as startGateway's. */
export function startWorker(
  env: Record<string, string>,
  gatewayRoot = root,
  nodeFlags: string[] = [],
): Managed {
  const child = spawn(process.execPath, [...nodeFlags, "--import", "tsx", "src/cli/main.ts", "worker"], {
    cwd: gatewayRoot,
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? "/tmp",
      NODE_ENV: "production",
      LOG_LEVEL: "warn",
      ...env,
    },
    stdio: ["ignore", "ignore", "ignore"],
  });
  return managed("worker", child, 0);
}

export interface Arrival {
  orderId: string;
  webhookId: string;
  at: number;
}

export interface Receiver extends Managed {
  count(): Promise<{ requests: number; arrivals: number }>;
  report(): Promise<{ requests: number; arrivals: Arrival[] }>;
  reset(): Promise<void>;
}

/** The webhook receiver child (bench/webhook-receiver.ts), driven over IPC. */
export async function startReceiver(): Promise<Receiver> {
  const child = spawn(process.execPath, ["--import", "tsx", "bench/webhook-receiver.ts"], {
    cwd: root,
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  const ask = <T>(type: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const onMessage = (message: { type: string } & T) => {
        if (message.type !== type) return;
        child.off("message", onMessage);
        clearTimeout(timer);
        resolve(message);
      };
      const timer = setTimeout(() => {
        child.off("message", onMessage);
        reject(new Error(`receiver did not answer ${type}`));
      }, 60_000);
      child.on("message", onMessage);
      child.send({ type });
    });
  const port = await new Promise<number>((resolve, reject) => {
    child.once("message", (message: { type: string; port: number }) => resolve(message.port));
    child.once("exit", (code) => reject(new Error(`receiver exited (${code})`)));
  });
  const base = managed("receiver", child, port);
  return {
    ...base,
    count: () => ask("count"),
    report: () => ask("report"),
    reset: () => ask<unknown>("reset").then(() => {}),
  };
}

/** CPU seconds a process has spent so far in user and in system mode, from /proc (clock ticks of 10 ms). */
export function cpuTimesOf(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may contain spaces, hence the last ")"): utime and stime are 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 };
}

/**
 * CPU seconds (user + system) a process has used so far. Divided by the requests served, it gives a cost per
 * request that depends far less on the neighbours' load than req/s does.
 */
export function cpuSecondsOf(pid: number): number {
  const { user, system } = cpuTimesOf(pid);
  return user + system;
}

/** Resident set size now and its peak (VmHWM) of a process, in MiB, from /proc. */
export function memoryOf(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? "0");
  return { rssMiB: kib("VmRSS") / 1024, peakMiB: kib("VmHWM") / 1024 };
}

/** Samples a process's RSS every `everyMs` until stopped; returns the samples (MiB). */
export function sampleMemory(pid: number, everyMs = 500): { stop(): number[] } {
  const samples: number[] = [];
  const timer = setInterval(() => {
    try {
      samples.push(memoryOf(pid).rssMiB);
    } catch {
      // The process is gone: the caller will notice.
    }
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return samples;
    },
  };
}
