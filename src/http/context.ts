import type { OpenAPIHono } from "@hono/zod-openapi";
import type { KeyMode } from "../domain/keys/format.ts";
import type { Scope } from "../domain/keys/scopes.ts";
import type { Services } from "../services.ts";

/**
 * The authenticated caller, set by the auth middleware. One object serves every request of a verified key record
 * (src/http/auth.ts), so its fields are read-only (the scopes array is the verified key record's own, shared as
 * before).
 */
export interface AuthContext {
  readonly keyId: string;
  readonly tenantId: string;
  readonly plan: string;
  readonly mode: KeyMode;
  readonly scopes: Scope[];
  readonly rateLimitPerMinute: number | null;
}

export interface AppEnv {
  Variables: {
    services: Services;
    requestId: string;
    auth: AuthContext;
  };
}

export type App = OpenAPIHono<AppEnv>;
