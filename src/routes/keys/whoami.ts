import { createRoute, z } from "@hono/zod-openapi";
import type { TypedResponse } from "hono";
import type { Config } from "../../config.ts";
import { allScopes } from "../../domain/keys/scopes.ts";
import { authenticate } from "../../http/auth.ts";
import type { App, AuthContext } from "../../http/context.ts";
import { errorResponses } from "../../http/problem.ts";
import { keyPolicy } from "../../http/rate-limit.ts";

export const WhoamiSchema = z
  .object({
    key_id: z.string().openapi({ example: "0b6f5d1e-3c2a-4f7e-9a51-2d7c8e9f0a1b" }),
    tenant_id: z.string().openapi({ example: "7d1c2f3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f" }),
    mode: z.enum(["live", "test"]),
    scopes: z.array(z.enum(allScopes)).openapi({ example: ["orders:write", "orders:read"] }),
    plan: z.string().openapi({ example: "starter" }),
    rate_limit: z
      .object({
        limit: z.number().int().openapi({ example: 100 }),
        window_seconds: z.number().int().openapi({ example: 60 }),
      })
      .openapi({ description: "The key's quota; the RateLimit header of this response says what is left." }),
  })
  .openapi("Whoami");

export const whoamiRoute = createRoute({
  method: "get",
  path: "/v1/whoami",
  tags: ["API keys"],
  operationId: "whoami",
  summary: "Check your API key",
  description:
    "Says which tenant and mode the key belongs to, what it may do, and its rate limit. Any valid key may call it (no scope needed), so it is the first call to make with a new key. It reads nothing but the key, and counts against the key's rate limit like any request.",
  security: [{ ApiKey: [] }],
  middleware: [authenticate()] as const,
  responses: {
    200: { description: "The key's identity", content: { "application/json": { schema: WhoamiSchema } } },
    ...errorResponses("unauthorized", "quota_exceeded", "internal_error"),
  },
});

/**
 * Whoami's answer as JSON text, kept per AuthContext (one per verified key record, never changed: a change of the key,
 * its tenant or its plan is a new record) and the config it was made under: it depends on nothing else, so every
 * request of a key answers the same bytes. Serialising it was about 1 µs of the route's CPU on Node 20 (its seven
 * scopes and two ids; BENCHMARKS.md, session 12), and integrations call it as their connection check.
 */
const answers = new WeakMap<AuthContext, { config: Config; body: string }>();

function answerOf(auth: AuthContext, config: Config): string {
  const kept = answers.get(auth);
  if (kept !== undefined && kept.config === config) return kept.body;
  const policy = keyPolicy(auth, config);
  const body = JSON.stringify({
    key_id: auth.keyId,
    tenant_id: auth.tenantId,
    mode: auth.mode,
    scopes: auth.scopes,
    plan: auth.plan,
    rate_limit: { limit: policy.limit, window_seconds: policy.windowSeconds },
  } satisfies z.infer<typeof WhoamiSchema>);
  answers.set(auth, { config, body });
  return body;
}

export function registerWhoami(app: App): void {
  app.openapi(whoamiRoute, (c) => {
    const body = answerOf(c.get("auth") as AuthContext, c.get("services").config);
    // What c.json would send (the same status, Content-Type and bytes), without serialising again; typed as c.json's
    // answer, which the text is.
    return c.body(body, 200, { "Content-Type": "application/json" }) as unknown as TypedResponse<
      z.infer<typeof WhoamiSchema>,
      200,
      "json"
    >;
  });
}
