// The webhook-dispatcher Edge Function: one bounded batch of due webhook deliveries per invocation, with the same
// claim/attempt/record code the Node worker runs (`runDispatchBatch`). An Edge Function cannot run for ever, so
// pg_cron invokes it every 10 seconds and a trigger pokes it when deliveries are queued (migration 0090). Being the
// deployment's only periodic entry, it also runs the due connector jobs (VTEX order fetches, Magento polls) that the
// Node service's connector worker runs, and the housekeeping the Node server does on a timer.
import { createHash, timingSafeEqual } from "node:crypto";
import { ConfigError } from "../../../src/config.ts";
import { runDueConnectorJobs } from "../../../src/domain/connectors/worker.ts";
import { housekeep } from "../../../src/domain/retention.ts";
import { runDispatchBatch } from "../../../src/domain/webhooks/dispatcher.ts";
import { ApiError, problemResponse } from "../../../src/http/problem.ts";
import { newRequestId } from "../../../src/http/request-id.ts";
import { buildEdgeServices, deno, serveEdge, withoutFunctionPrefix } from "../_shared/edge.ts";
import { resetDispatcherPoke } from "../_shared/poke.ts";

const functionName = "webhook-dispatcher";

let built: Awaited<ReturnType<typeof buildEdgeServices>>;
try {
  built = await buildEdgeServices(deno().env.toObject(), functionName);
  if (!built.services.config.WEBHOOK_DISPATCHER_SECRET) {
    await built.close();
    // Without it anyone who knows the URL could make the function send (harmless but costly) batches.
    throw new ConfigError([
      "WEBHOOK_DISPATCHER_SECRET: required by the webhook-dispatcher function (the same value as the Vault secret cellvi_dispatcher_secret)",
    ]);
  }
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : error);
  throw error;
}
const { services } = built;
const { config, logger } = services;
const expectedSecret = createHash("sha256")
  .update(config.WEBHOOK_DISPATCHER_SECRET ?? "")
  .digest();

/** Compares digests, so neither the secret's length nor its first differing byte shows in the timing. */
function authorized(request: Request): boolean {
  const presented = request.headers.get("x-dispatcher-secret");
  if (!presented) return false;
  return timingSafeEqual(createHash("sha256").update(presented).digest(), expectedSecret);
}

function problem(request: Request, error: ApiError): Response {
  return problemResponse(error, {
    baseUrl: config.publicBaseUrl,
    requestId: newRequestId(),
    instance: new URL(request.url).pathname,
  });
}

// The Node server's hourly housekeeping (expired idempotency records, retention), per isolate: a recycled isolate
// may run it sooner, which only costs a few indexed deletes. At most 20 retention statements per kind (100,000
// rows) an hour, to stay within an invocation's time budget; a larger backlog is worked off over the next hours.
const housekeepEveryMs = 60 * 60 * 1000;
const housekeepMaxBatches = 20;
let lastHousekeepingAt = Number.NEGATIVE_INFINITY;

async function housekeeping(): Promise<void> {
  if (Date.now() - lastHousekeepingAt < housekeepEveryMs) return;
  lastHousekeepingAt = Date.now();
  await housekeep(services, housekeepMaxBatches);
}

/**
 * Runs due connector jobs one claim at a time until none is due or the invocation's time budget is spent (a job
 * started just before the deadline still finishes, within CONNECTOR_HTTP_TIMEOUT_MS).
 */
async function connectorJobs(deadline: number): Promise<{ ran: number; failed: number }> {
  let ran = 0;
  let failed = 0;
  while (Date.now() < deadline) {
    const results = await runDueConnectorJobs(services, { limit: 1 });
    if (results.length === 0) break;
    ran += results.length;
    failed += results.filter((run) => run.result.outcome === "failed").length;
  }
  return { ran, failed };
}

async function reasonOf(request: Request): Promise<string> {
  try {
    const body = (await request.json()) as { reason?: unknown };
    return typeof body.reason === "string" ? body.reason.slice(0, 50) : "unspecified";
  } catch {
    return "unspecified";
  }
}

async function handle(incoming: Request): Promise<Response> {
  const request = withoutFunctionPrefix(incoming, functionName);
  const path = new URL(request.url).pathname;
  if (request.method === "GET" && path === "/healthz") {
    return Response.json({ status: "ok", function: functionName });
  }
  if (path !== "/")
    return problem(request, new ApiError("not_found", `No route for ${request.method} ${path}.`));
  if (request.method !== "POST") {
    return problem(
      request,
      new ApiError(
        "method_not_allowed",
        `${request.method} is not allowed here; use POST.`,
        {},
        { allow: "POST" },
      ),
    );
  }
  if (!authorized(request)) {
    return problem(
      request,
      new ApiError("unauthorized", "Send the dispatcher secret in `x-dispatcher-secret`."),
    );
  }
  const reason = await reasonOf(request);
  try {
    const deadline = Date.now() + config.WEBHOOK_DISPATCH_MAX_TIME;
    // From here on, a delivery queued by another transaction pokes again (see cellvi_poke_webhook_dispatcher).
    await resetDispatcherPoke(services.db);
    const result = await runDispatchBatch(services, {
      maxDeliveries: config.WEBHOOK_DISPATCH_MAX_DELIVERIES,
      maxMillis: config.WEBHOOK_DISPATCH_MAX_TIME,
    });
    logger.info({ reason, ...result }, "webhook dispatch batch");
    // Webhooks first: they are what integrators wait for. Connector jobs get the rest of the budget.
    const connector_jobs = await connectorJobs(deadline);
    if (connector_jobs.ran > 0) logger.info({ reason, ...connector_jobs }, "connector jobs run");
    await housekeeping();
    return Response.json({ ...result, connector_jobs });
  } catch (error) {
    // Claimed deliveries whose outcome was not written come back when their lease runs out: nothing is lost.
    logger.error({ err: error, reason }, "webhook dispatch batch failed");
    return problem(
      request,
      new ApiError("internal_error", "The dispatch batch failed; it is retried on schedule."),
    );
  }
}

serveEdge(functionName, config, logger, handle, () => built.close());
