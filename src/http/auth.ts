import type { Context, MiddlewareHandler } from "hono";
import { parseApiKey } from "../domain/keys/format.ts";
import type { Scope } from "../domain/keys/scopes.ts";
import type { VerifiedKey } from "../domain/keys/store.ts";
import { authFailureThrottle } from "./auth-failures.ts";
import type { AppEnv, AuthContext } from "./context.ts";
import { addResponseHeaders, requestHeader } from "./headers.ts";
import { ApiError } from "./problem.ts";
import { consumeRateLimit, keyPolicy, requestAddress } from "./rate-limit.ts";

const realm = 'Bearer realm="cellvi-connect"';

function unauthorized(detail: string, presented: boolean): ApiError {
  return new ApiError(
    "unauthorized",
    detail,
    {},
    { "www-authenticate": presented ? `${realm}, error="invalid_token"` : realm },
  );
}

/**
 * The request's AuthContext for a verified key: one per verified key record, built on its first request. A record
 * is never changed (a change of the key or its tenant is a new lookup, so a new record), and nothing changes an
 * AuthContext, so every request of the record can share it.
 */
const authContexts = new WeakMap<VerifiedKey, AuthContext>();
function authContextOf(verified: VerifiedKey): AuthContext {
  let auth = authContexts.get(verified);
  if (auth === undefined) {
    auth = {
      keyId: verified.keyId,
      tenantId: verified.tenantId,
      plan: verified.plan,
      mode: verified.mode,
      scopes: verified.scopes,
      rateLimitPerMinute: verified.rateLimitPerMinute,
    };
    authContexts.set(verified, auth);
  }
  return auth;
}

/** The key from `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
export function presentedKey(header: (name: string) => string | undefined): string | undefined {
  const authorization = header("authorization");
  if (authorization) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    return match ? match[1] : authorization;
  }
  return header("x-api-key")?.trim() || undefined;
}

/**
 * Authenticates the API key, counts the request against the key's rate limit, and, when `scope` is given, requires
 * it. In that order: a request without the scope still counts, so probing scopes is throttled like anything else.
 *
 * - A malformed key (bad prefix or checksum) is rejected before any lookup; unknown, revoked and expired keys get
 *   the same 401, so a caller learns nothing about which keys exist. Those failures count against the client
 *   address (`authFailureThrottle`, a `FailureThrottle`): over AUTH_FAILURE_LIMIT_PER_MINUTE, 429 and no lookups
 *   for it for a while.
 * - Verification goes through the services' key cache (no query on the hot path) and the use is recorded for the
 *   batched `last_used_at` write.
 * - Every response of a keyed route carries the RateLimit headers, errors included.
 */
export function authenticate(scope?: Scope): MiddlewareHandler<AppEnv> {
  // Answers at once when it can, like any handler; Hono's chain awaits what it returns.
  const middleware = ((c, next) => checkKeyThen(c, scope, next)) as MiddlewareHandler<AppEnv>;
  keyChecks.set(middleware, { scope });
  return middleware;
}

/** What each `authenticate` middleware checks: the scope it requires (none: any valid key). */
const keyChecks = new WeakMap<MiddlewareHandler, { scope: Scope | undefined }>();

/**
 * The key check a handler stands for when it is an `authenticate` middleware, else undefined. The app's envelope
 * runs such a route's key check itself, without a middleware layer (src/app.ts).
 */
export function keyCheckOf(handler: unknown): { scope: Scope | undefined } | undefined {
  return typeof handler === "function" ? keyChecks.get(handler as MiddlewareHandler) : undefined;
}

/**
 * What `authenticate(scope)` does around the rest of the chain (`inner`, its `next`): the key check and the rate
 * limit, then `inner`, then the RateLimit headers on whatever answered. The same function whether it runs as the
 * route's middleware or inside the envelope, and synchronous as long as everything is decided at once (a key
 * verified a moment ago, a limiter decision that needs no round trip, an answer ready at once). A refusal (401, 403,
 * 429, 503) is thrown, for Hono's chain to answer as this layer's, or given to `refused` to answer when there is no
 * such layer (the envelope's keyed routes).
 */
export function checkKeyThen(
  c: Context<AppEnv>,
  scope: Scope | undefined,
  inner: () => unknown,
  refused?: (error: unknown) => unknown,
): unknown {
  let admitted: Record<string, string> | Promise<Record<string, string>>;
  try {
    admitted = admitKey(c, scope);
  } catch (error) {
    if (refused === undefined) throw error;
    return refused(error);
  }
  if (!(admitted instanceof Promise)) return answerWithHeaders(c, inner, admitted);
  return admitted.then(
    (headers) => answerWithHeaders(c, inner, headers),
    (error) => {
      if (refused === undefined) throw error;
      return refused(error);
    },
  );
}

/** The rest of the chain, then the RateLimit headers on its answer. */
function answerWithHeaders(
  c: Context<AppEnv>,
  inner: () => unknown,
  headers: Record<string, string>,
): unknown {
  const answered = inner();
  if (answered instanceof Promise) return answered.then(() => addResponseHeaders(c, headers));
  addResponseHeaders(c, headers);
  return undefined;
}

/** The key checked and the request counted: the response's RateLimit headers, or a refusal thrown. */
function admitKey(
  c: Context<AppEnv>,
  scope: Scope | undefined,
): Record<string, string> | Promise<Record<string, string>> {
  const key = presentedKey((name) => requestHeader(c, name));
  if (!key) {
    throw unauthorized("Send your API key as `Authorization: Bearer <key>` or `X-API-Key: <key>`.", false);
  }
  // A key string that verified a moment ago passed the format and checksum then: nearly every request of a busy
  // key skips them and the SHA-256 (about 1.5 µs together), with the same answer (KeyVerifier.recentlyVerified).
  const verified = c.get("services").keyVerifier.recentlyVerified(key);
  if (verified === undefined || verified === null) return verifyThenAdmit(c, key, scope, verified);
  return admitVerified(c, verified, scope);
}

/**
 * `admitKey` for a key string not verified a moment ago (its format and checksum, then the key cache or a lookup),
 * or verified as no longer valid (`known` null: expired since).
 */
async function verifyThenAdmit(
  c: Context<AppEnv>,
  key: string,
  scope: Scope | undefined,
  known: null | undefined,
): Promise<Record<string, string>> {
  const services = c.get("services");
  let verified: VerifiedKey | null | undefined = known;
  if (verified === undefined) {
    if (!parseApiKey(key)) {
      throw unauthorized(
        "The API key is malformed: check that it was copied whole (it starts with cvk_).",
        true,
      );
    }
    const answer = services.keyVerifier.verify(key, () =>
      authFailureThrottle(services).refuseIfBlocked(requestAddress(c)),
    );
    verified = answer instanceof Promise ? await answer : answer;
  }
  if (!verified) {
    await authFailureThrottle(services).recordFailure(c);
    throw unauthorized("The API key is unknown, revoked or expired.", true);
  }
  return admitVerified(c, verified, scope);
}

/** A verified key's request: the AuthContext set, the use recorded, the request counted, then the scope. */
function admitVerified(
  c: Context<AppEnv>,
  verified: VerifiedKey,
  scope: Scope | undefined,
): Record<string, string> | Promise<Record<string, string>> {
  const { keyVerifier, config } = c.get("services");
  const auth = authContextOf(verified);
  c.set("auth", auth);
  keyVerifier.recordUse(verified.keyId);
  const counted = consumeRateLimit(c, `key:${verified.keyId}`, keyPolicy(auth, config));
  if (counted instanceof Promise) return counted.then((headers) => requireScope(verified, scope, headers));
  return requireScope(verified, scope, counted);
}

/** The headers, or the 403 (with them) of a key that lacks the route's scope. */
function requireScope(
  verified: VerifiedKey,
  scope: Scope | undefined,
  headers: Record<string, string>,
): Record<string, string> {
  if (scope && !verified.scopes.includes(scope)) {
    throw new ApiError(
      "forbidden",
      `This API key lacks the \`${scope}\` scope.`,
      { required_scope: scope },
      headers,
    );
  }
  return headers;
}
