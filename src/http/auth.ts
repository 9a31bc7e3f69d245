import { createMiddleware } from "hono/factory";
import { hashApiKey, parseApiKey } from "../domain/keys/format.ts";
import type { Scope } from "../domain/keys/scopes.ts";
import { findActiveKeyByHash } from "../domain/keys/store.ts";
import type { AppEnv } from "./context.ts";
import { ApiError } from "./problem.ts";

const realm = 'Bearer realm="cellvi-connect"';

function unauthorized(detail: string, presented: boolean): ApiError {
  return new ApiError(
    "unauthorized",
    detail,
    {},
    { "www-authenticate": presented ? `${realm}, error="invalid_token"` : realm },
  );
}

/** The key from `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
export function presentedKey(headers: Headers): string | undefined {
  const authorization = headers.get("authorization");
  if (authorization) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    return match ? match[1] : authorization;
  }
  return headers.get("x-api-key")?.trim() || undefined;
}

/**
 * Authenticates the API key and, when `scope` is given, requires it. A malformed key (bad prefix or checksum) is
 * rejected before any database lookup. Unknown, revoked and expired keys get the same 401, so a caller learns
 * nothing about which keys exist.
 */
export function authenticate(scope?: Scope) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const key = presentedKey(c.req.raw.headers);
    if (!key) {
      throw unauthorized("Send your API key as `Authorization: Bearer <key>` or `X-API-Key: <key>`.", false);
    }
    if (!parseApiKey(key)) {
      throw unauthorized(
        "The API key is malformed: check that it was copied whole (it starts with cvk_).",
        true,
      );
    }
    const verified = await findActiveKeyByHash(c.var.services.db, hashApiKey(key));
    if (!verified) throw unauthorized("The API key is unknown, revoked or expired.", true);
    c.set("auth", {
      keyId: verified.keyId,
      tenantId: verified.tenantId,
      plan: verified.plan,
      mode: verified.mode,
      scopes: verified.scopes,
      rateLimitPerMinute: verified.rateLimitPerMinute,
    });
    if (scope && !verified.scopes.includes(scope)) {
      throw new ApiError("forbidden", `This API key lacks the \`${scope}\` scope.`, {
        required_scope: scope,
      });
    }
    await next();
  });
}
