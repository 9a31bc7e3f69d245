import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { RateLimitDecision, RateLimitPolicy } from "../adapters/ratelimit/types.ts";
import { RateLimiterUnavailableError } from "../adapters/ratelimit/types.ts";
import type { Config } from "../config.ts";
import { clientAddress } from "./client-address.ts";
import type { AppEnv, AuthContext } from "./context.ts";
import { addResponseHeaders, requestHeader } from "./headers.ts";
import { ApiError } from "./problem.ts";

const windowSeconds = 60;

/**
 * A key's per-minute policy: the key's own limit, else its tenant's override, else the tenant's plan's, else the
 * service default. The policy is named after the plan, so a client sees which plan it is on.
 */
export function keyPolicy(
  auth: Pick<AuthContext, "plan" | "rateLimitPerMinute">,
  config: Config,
): RateLimitPolicy {
  const limit = auth.rateLimitPerMinute ?? config.RATE_LIMIT_PLANS[auth.plan] ?? config.RATE_LIMIT_PER_MINUTE;
  return { name: auth.plan, limit, windowSeconds };
}

export function trackingPolicy(config: Config): RateLimitPolicy {
  return { name: "tracking", limit: config.TRACKING_RATE_LIMIT_PER_MINUTE, windowSeconds };
}

/** A structured-field string (RFC 8941 sf-string): printable ASCII, with `"` and `\` escaped. */
function sfString(value: string): string {
  return `"${value.replace(/[^\x20-\x7e]/g, "_").replace(/["\\]/g, "\\$&")}"`;
}

/**
 * The IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers): the policy (quota `q` per window `w` seconds)
 * and the current state (`r` requests remaining, `t` seconds until the full quota is back).
 */
export function rateLimitHeaders(
  policy: RateLimitPolicy,
  decision: RateLimitDecision,
): Record<string, string> {
  const fields = policyFields(policy);
  return {
    "ratelimit-policy": fields.header,
    ratelimit: `${fields.name};r=${decision.remaining};t=${Math.ceil(decision.resetMicros / 1_000_000)}`,
  };
}

interface PolicyFields {
  limit: number;
  windowSeconds: number;
  /** The policy's name as an sf-string. */
  name: string;
  /** The whole RateLimit-Policy value. */
  header: string;
}

/**
 * The policy's part of the RateLimit fields, kept by policy name: every keyed request answers them, and the
 * name's escaping (two regular expressions) and the policy's field are the same for every request of a plan.
 * Policy names are plan names and a few fixed ones, so the map stays small; past `maxCachedPolicies` names
 * nothing more is kept (the fields are computed as before).
 */
const cachedPolicyFields = new Map<string, PolicyFields>();
const maxCachedPolicies = 256;

function policyFields(policy: RateLimitPolicy): PolicyFields {
  const cached = cachedPolicyFields.get(policy.name);
  if (cached && cached.limit === policy.limit && cached.windowSeconds === policy.windowSeconds) return cached;
  const name = sfString(policy.name);
  const fields: PolicyFields = {
    limit: policy.limit,
    windowSeconds: policy.windowSeconds,
    name,
    header: `${name};q=${policy.limit};w=${policy.windowSeconds}`,
  };
  if (cached || cachedPolicyFields.size < maxCachedPolicies) cachedPolicyFields.set(policy.name, fields);
  return fields;
}

/**
 * Counts one request of `subject` under `policy`. Returns the headers for the response, or throws the 429 (with
 * Retry-After) or, when the limiter cannot decide and is set to fail closed, a 503. At once when the limiter can
 * decide at once (`RateLimiter.decideNow`: the in-memory limiter, a busy key's reserve), else a promise.
 */
export function consumeRateLimit(
  c: Context<AppEnv>,
  subject: string,
  policy: RateLimitPolicy,
): Record<string, string> | Promise<Record<string, string>> {
  const { rateLimiter } = c.get("services");
  const started = performance.now();
  let now: RateLimitDecision | undefined;
  try {
    now = rateLimiter.decideNow?.(subject, policy);
  } catch (error) {
    throw limiterFailure(c, error);
  }
  if (now !== undefined) return admitted(c, subject, policy, now, started);
  return rateLimiter.consume(subject, policy).then(
    (decision) => admitted(c, subject, policy, decision, started),
    (error) => {
      throw limiterFailure(c, error);
    },
  );
}

/** What the request gets when the limiter could not decide: a 503 when it is set to fail closed. */
function limiterFailure(c: Context<AppEnv>, error: unknown): unknown {
  if (!(error instanceof RateLimiterUnavailableError)) return error;
  c.get("services").metrics.observeRateLimiterFallback("refused");
  return new ApiError(
    "service_unavailable",
    "Rate limiting is temporarily unavailable, so requests are refused. Retry shortly.",
    {},
    { "retry-after": "1" },
  );
}

/** The decision counted in the metrics, then the response's headers, or the 429. */
function admitted(
  c: Context<AppEnv>,
  subject: string,
  policy: RateLimitPolicy,
  decision: RateLimitDecision,
  started: number,
): Record<string, string> {
  const { rateLimiter, metrics } = c.get("services");
  metrics.observeRateLimitDecision({
    backend: decision.backend,
    allowed: decision.allowed,
    seconds: (performance.now() - started) / 1000,
  });
  if (decision.backend !== rateLimiter.kind) metrics.observeRateLimiterFallback("memory");
  const headers = rateLimitHeaders(policy, decision);
  if (!decision.allowed) {
    const retryAfter = Math.max(1, Math.ceil(decision.retryAfterMicros / 1_000_000));
    throw new ApiError(
      "quota_exceeded",
      `${quotaSentence(subject, policy)} Retry in ${retryAfter} s.`,
      { limit: policy.limit, window_seconds: policy.windowSeconds, retry_after_seconds: retryAfter },
      { ...headers, "retry-after": String(retryAfter) },
    );
  }
  return headers;
}

/** What a 429's detail says the quota was, by the kind of subject counted. */
function quotaSentence(subject: string, policy: RateLimitPolicy): string {
  const per = `per ${policy.windowSeconds} s`;
  if (subject.startsWith("ip:")) return `This address may send ${policy.limit} requests ${per}.`;
  if (subject.startsWith("authfail:")) {
    return `This address may fail authentication ${policy.limit} times ${per} (unknown, revoked or expired API keys).`;
  }
  if (subject.startsWith("inboundfail:")) {
    return `This address may name unknown connectors ${policy.limit} times ${per} (inbound URLs that answer 404).`;
  }
  return `This API key may send ${policy.limit} requests ${per}.`;
}

/** The client's address for per-address limits (see `clientAddress`). */
export function requestAddress(c: Context<AppEnv>): string {
  const { config } = c.get("services");
  return clientAddress((name) => requestHeader(c, name), c.env, {
    trustedHeader: config.TRUSTED_PROXY_HEADER,
    trustedHops: config.TRUSTED_PROXY_HOPS,
  });
}

/**
 * Per-client-address limit for public (keyless) endpoints. The address comes from the socket, or from the proxy
 * header named by TRUSTED_PROXY_HEADER when that is set. CORS preflights are not counted.
 */
export function rateLimitByClientAddress(policyOf: (config: Config) => RateLimitPolicy) {
  return createMiddleware<AppEnv>(async (c, next) => {
    if (c.req.method === "OPTIONS") return next();
    const headers = await consumeRateLimit(c, `ip:${requestAddress(c)}`, policyOf(c.get("services").config));
    await next();
    addResponseHeaders(c, headers);
  });
}
