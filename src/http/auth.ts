import { createMiddleware } from "hono/factory";
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
export function authenticate(scope?: Scope) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const key = presentedKey((name) => requestHeader(c, name));
    if (!key) {
      throw unauthorized("Send your API key as `Authorization: Bearer <key>` or `X-API-Key: <key>`.", false);
    }
    const services = c.get("services");
    const { keyVerifier, config } = services;
    // A key string that verified a moment ago passed the format and checksum then: nearly every request of a busy
    // key skips them and the SHA-256 (about 1.5 µs together), with the same answer (KeyVerifier.recentlyVerified).
    let verified = keyVerifier.recentlyVerified(key);
    if (verified === undefined) {
      if (!parseApiKey(key)) {
        throw unauthorized(
          "The API key is malformed: check that it was copied whole (it starts with cvk_).",
          true,
        );
      }
      const answer = keyVerifier.verify(key, () =>
        authFailureThrottle(services).refuseIfBlocked(requestAddress(c)),
      );
      verified = answer instanceof Promise ? await answer : answer;
    }
    if (!verified) {
      await authFailureThrottle(services).recordFailure(c);
      throw unauthorized("The API key is unknown, revoked or expired.", true);
    }
    const auth = authContextOf(verified);
    c.set("auth", auth);
    keyVerifier.recordUse(verified.keyId);
    const headers = await consumeRateLimit(c, `key:${verified.keyId}`, keyPolicy(auth, config));
    if (scope && !verified.scopes.includes(scope)) {
      throw new ApiError(
        "forbidden",
        `This API key lacks the \`${scope}\` scope.`,
        { required_scope: scope },
        headers,
      );
    }
    await next();
    addResponseHeaders(c, headers);
  });
}
