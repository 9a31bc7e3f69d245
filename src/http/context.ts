import type { OpenAPIHono } from "@hono/zod-openapi";
import type { KeyMode } from "../domain/keys/format.ts";
import type { Scope } from "../domain/keys/scopes.ts";
import type { Services } from "../services.ts";

/** The authenticated caller, set by the auth middleware. */
export interface AuthContext {
  keyId: string;
  tenantId: string;
  plan: string;
  mode: KeyMode;
  scopes: Scope[];
  rateLimitPerMinute: number | null;
}

export interface AppEnv {
  Variables: {
    services: Services;
    requestId: string;
    auth: AuthContext;
  };
}

export type App = OpenAPIHono<AppEnv>;
