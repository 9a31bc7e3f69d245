import { type LoadTarget, type PairedResult, pairedRuns } from "../lib/load.ts";
import type { BenchTenant } from "../lib/setup.ts";
import { createOrderBody } from "../lib/setup.ts";

export interface HttpContext {
  gatewayUrl: string;
  gatewayPid: number;
  baselineUrl: string;
  baselinePid: number;
  tenant: BenchTenant;
  tracked: { number: string; token: string }[];
  runs: number;
  durationS: number;
  warmupS: number;
  connections: number;
  /** Scenario 1's route: /v1/whoami (200), or, against an older checkout without it, a 404 of a keyed route. */
  noopPath: string;
  log(line: string): void;
}

export interface HttpScenarioResult extends PairedResult {
  scenario: PairedResult["scenario"];
  target: string;
  met: boolean;
}

export function baselineTarget(url: string, pid: number): LoadTarget {
  return { url, pid, path: "/", expect: [200] };
}

/**
 * Scenario 1: everything the gateway adds to a keyed request, without the database: key check (the verified-key
 * cache), the rate limiter (its full decision, in Redis), the request log line and metrics, the security headers,
 * and a handler. `GET /v1/whoami` is exactly that: it answers from the verified key alone.
 */
export function keyedNoopTarget(
  context: Pick<HttpContext, "gatewayUrl" | "gatewayPid" | "tenant" | "noopPath">,
): LoadTarget {
  return {
    url: context.gatewayUrl,
    pid: context.gatewayPid,
    path: context.noopPath,
    headers: { authorization: `Bearer ${context.tenant.apiKey}` },
    expect: context.noopPath === "/v1/whoami" ? [200] : [404],
  };
}

/** Scenario 2: the public tracking page (per-address limiter, one order read and its history). */
export function trackingTarget(
  context: Pick<HttpContext, "gatewayUrl" | "gatewayPid" | "tracked">,
): LoadTarget {
  return {
    url: context.gatewayUrl,
    pid: context.gatewayPid,
    requests: context.tracked.map((order) => ({
      method: "GET",
      path: `/v1/tracking/${order.number}?token=${order.token}`,
    })),
    expect: [200],
  };
}

/** Scenario 3: order creation with an Idempotency-Key, each request a new order (ids replaced per request). */
export function createOrderTarget(
  context: Pick<HttpContext, "gatewayUrl" | "gatewayPid" | "tenant">,
): LoadTarget {
  return {
    url: context.gatewayUrl,
    pid: context.gatewayPid,
    path: "/v1/orders/create",
    method: "POST",
    headers: {
      authorization: `Bearer ${context.tenant.apiKey}`,
      "content-type": "application/json",
      "idempotency-key": "bench-[<id>]",
    },
    body: createOrderBody,
    idReplacement: true,
    expect: [201],
  };
}

async function paired(context: HttpContext, target: LoadTarget): Promise<PairedResult> {
  return pairedRuns(baselineTarget(context.baselineUrl, context.baselinePid), target, context, context.log);
}

export async function scenarioKeyedNoop(context: HttpContext): Promise<HttpScenarioResult> {
  const result = await paired(context, keyedNoopTarget(context));
  return { ...result, target: "req/s ratio to the node:http baseline >= 0.6", met: result.ratio >= 0.6 };
}

/**
 * Scenario 1's reference servers, each its own process paired with the same baseline as the keyed no-op (the
 * `key` is its entry in the results). Not targets:
 * - the framework floor, Hono on its Node adapter with no middleware: how much of the gap is the framework itself;
 * - since session 12, the gateway's shape without its duties (one handler answering at once since session 13, two
 *   async layers before; the keyed answer's headers held as the envelope holds them, whoami's body; responses ended
 *   at the end of their turn as the gateway's are): the keyed no-op cannot do better than this with the same
 *   chain, headers and body.
 */
export const referenceServers = [
  {
    key: "frameworkFloor",
    script: "bench/framework-floor-server.mjs",
    title: "the framework floor (Hono on its Node adapter, no middleware)",
    target: "none (reference: Hono on @hono/node-server, no middleware)",
  },
  {
    key: "gatewayShape",
    script: "bench/gateway-shape-server.ts",
    title: "the gateway's shape without its duties (bench/gateway-shape-server.ts)",
    target: "none (reference: the gateway's chain, headers and body, without its duties)",
  },
] as const;

/** One of `referenceServers`, running at `server`, paired with the baseline. */
export async function scenarioReferenceServer(
  context: HttpContext,
  server: { url: string; pid: number },
  reference: (typeof referenceServers)[number],
): Promise<HttpScenarioResult> {
  const result = await paired(context, { url: server.url, pid: server.pid, path: "/", expect: [200] });
  return { ...result, target: reference.target, met: true };
}

/**
 * Scenario 1's second reference point, the same comparison as Kong's published one (its proxy with key-auth and
 * rate limiting against the same proxy without them): the keyed no-op against the gateway's own unkeyed
 * `GET /healthz`, alternating in one process. `/healthz` goes through the same envelope (request id, security
 * headers, the request log line and metrics) and answers a small JSON body too, but has no key check, no limiter,
 * no RateLimit headers and is not under `/v1/*` (no API guard). The ratio is the share of the gateway's own
 * throughput that a keyed route keeps. Not a target.
 */
export async function scenarioKeyedShare(context: HttpContext): Promise<HttpScenarioResult> {
  const unkeyed: LoadTarget = {
    url: context.gatewayUrl,
    pid: context.gatewayPid,
    path: "/healthz",
    expect: [200],
  };
  const result = await pairedRuns(unkeyed, keyedNoopTarget(context), context, context.log);
  return {
    ...result,
    target: "none (reference: keyed req/s as a share of the same gateway's unkeyed /healthz)",
    met: true,
  };
}

export async function scenarioTracking(context: HttpContext): Promise<HttpScenarioResult> {
  const result = await paired(context, trackingTarget(context));
  return {
    ...result,
    target: ">= 5,000 req/s with p99 < 20 ms at 50 connections",
    met: result.scenario.requestsPerSecond >= 5000 && result.scenario.p99 < 20,
  };
}

export async function scenarioCreateOrder(context: HttpContext): Promise<HttpScenarioResult> {
  const result = await paired(context, createOrderTarget(context));
  return {
    ...result,
    target: ">= 1,500 orders/s with p99 < 50 ms",
    met: result.scenario.requestsPerSecond >= 1500 && result.scenario.p99 < 50,
  };
}
