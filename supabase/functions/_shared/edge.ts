import { type BuiltServices, buildServices, createLogger } from "../../../src/bootstrap.ts";
import { type Config, ConfigError, loadConfig } from "../../../src/config.ts";
import { missingKeyWarning } from "../../../src/domain/connectors/secret-box.ts";

/**
 * What the two Edge Functions need from the Deno runtime, and the Supabase-specific wiring around the shared core.
 * Everything under src/ stays runtime-neutral; this folder and the two entry files are the only Deno code.
 */

/** The part of the `Deno` global these entries use (typed here so the Node type check needs no Deno types). */
export interface DenoRuntime {
  env: { toObject(): Record<string, string> };
  serve(
    options: {
      port?: number;
      hostname?: string;
      onListen?: (address: { hostname: string; port: number }) => void;
    },
    handler: (request: Request) => Response | Promise<Response>,
  ): { shutdown(): Promise<void>; finished: Promise<void> };
  addSignalListener?(signal: "SIGTERM" | "SIGINT", handler: () => void): void;
  exit(code?: number): never;
}

const runtime = globalThis as unknown as {
  Deno?: DenoRuntime;
  /** Present only inside Supabase's Edge Runtime. */
  EdgeRuntime?: unknown;
  addEventListener?: (type: string, listener: () => void) => void;
};

export function deno(): DenoRuntime {
  if (!runtime.Deno)
    throw new Error("This entry runs on Deno (Supabase Edge Functions); use src/server.ts on Node.");
  return runtime.Deno;
}

/** True inside Supabase's Edge Runtime, false under a plain `deno run` (CI, local). */
export const onSupabaseEdge = runtime.EdgeRuntime !== undefined;

/**
 * The Edge environment as the shared `loadConfig` expects it. Supabase injects SUPABASE_URL and SUPABASE_DB_URL
 * into every function; they supply defaults that a Node deployment has to set by hand.
 */
export function edgeEnvironment(env: Record<string, string>, functionName: string): Record<string, string> {
  const result: Record<string, string> = { ...env };
  // An explicit DATABASE_URL (the transaction pooler, ideally) wins over the direct connection Supabase provides.
  if (!result.DATABASE_URL && env.SUPABASE_DB_URL) result.DATABASE_URL = env.SUPABASE_DB_URL;
  if (!result.PUBLIC_BASE_URL && env.SUPABASE_URL) {
    result.PUBLIC_BASE_URL = `${env.SUPABASE_URL.replace(/\/+$/, "")}/functions/v1/${functionName}`;
  }
  // An isolate serves one request at a time and many isolates run at once: a small pool per isolate keeps the
  // total within what the database (or its pooler) accepts.
  result.DATABASE_POOL_MAX ??= "3";
  // Supabase's transaction pooler (the recommended DATABASE_URL here) cannot keep named prepared statements, and a
  // short-lived isolate gains little from them.
  result.DATABASE_PREPARED_STATEMENTS ??= "false";
  return result;
}

/**
 * What an isolate says once when it starts, about settings whose absence the function cannot make up for:
 * - no TRUSTED_PROXY_HEADER: the function sees only Supabase's gateway, never the caller's socket, so every caller
 *   counts as one address for the per-address limits (public tracking, failed authentication, inbound lookups of
 *   unknown connectors), and one busy caller uses up everyone's budget;
 * - no CONNECTOR_ENCRYPTION_KEY: webhook subscriptions and connectors cannot be created, nor sealed secrets opened.
 */
export function edgeStartupWarnings(config: Config): string[] {
  const warnings: string[] = [];
  if (!config.TRUSTED_PROXY_HEADER) {
    warnings.push(
      "TRUSTED_PROXY_HEADER is not set: every caller counts as one client address for the per-address limits (tracking, failed authentication, unknown inbound connectors); see the Supabase deploy guide",
    );
  }
  // The functions always run on a server database (DATABASE_URL).
  const keyWarning = missingKeyWarning(config, "postgres");
  if (keyWarning) warnings.push(keyWarning);
  return warnings;
}

/**
 * Parses the configuration and builds the shared services. DATABASE_URL is required: an Edge Function has no
 * disk for the embedded database. Migrations are not applied here: `supabase db push` applies them once, instead
 * of every cold start racing to.
 */
export async function buildEdgeServices(
  env: Record<string, string>,
  functionName: string,
): Promise<BuiltServices> {
  const config: Config = loadConfig(edgeEnvironment(env, functionName));
  if (!config.DATABASE_URL) {
    throw new ConfigError([
      "DATABASE_URL: required on Supabase Edge Functions (no embedded database there); set it with `supabase secrets set DATABASE_URL=...`",
    ]);
  }
  // console.log is what Supabase collects as function logs, on every runtime version.
  const logger = createLogger(config, { write: (line: string) => console.log(line.trimEnd()) });
  for (const warning of edgeStartupWarnings(config)) logger.warn(warning);
  return buildServices(config, { logger, migrate: false });
}

/**
 * Supabase routes `https://<ref>.supabase.co/functions/v1/<name>/<path>` to the function with the path
 * `/<name>/<path>`. The app knows only `/<path>`, so the prefix is removed; a request without it (plain `deno run`)
 * passes unchanged.
 */
export function withoutFunctionPrefix(request: Request, functionName: string): Request {
  const url = new URL(request.url);
  const prefix = `/${functionName}`;
  if (url.pathname !== prefix && !url.pathname.startsWith(`${prefix}/`)) return request;
  url.pathname = url.pathname.slice(prefix.length) || "/";
  return new Request(url, request);
}

/**
 * Serves `handler`: on Supabase with the runtime's own listener, elsewhere on PORT/HOST, logging the bound port so
 * a harness started with PORT=0 can find it. `close` runs once, on SIGTERM/SIGINT or when the isolate unloads.
 */
export function serveEdge(
  functionName: string,
  config: Config,
  logger: { info(details: object, message: string): void },
  handler: (request: Request) => Response | Promise<Response>,
  close: () => Promise<void>,
): void {
  const denoRuntime = deno();
  const options = onSupabaseEdge
    ? {}
    : {
        port: config.PORT,
        hostname: config.HOST,
        onListen: ({ port }: { port: number }) =>
          logger.info(
            { function: functionName, port },
            `${functionName} listening on http://${config.HOST}:${port}`,
          ),
      };
  const server = denoRuntime.serve(options, handler);
  let closing: Promise<void> | undefined;
  const shutdown = () => {
    closing ??= (async () => {
      await server.shutdown();
      await close();
    })();
    return closing;
  };
  runtime.addEventListener?.("beforeunload", () => void shutdown());
  if (!onSupabaseEdge && denoRuntime.addSignalListener) {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      denoRuntime.addSignalListener(signal, () => {
        void shutdown().finally(() => denoRuntime.exit(0));
      });
    }
  }
}
