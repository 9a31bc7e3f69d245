import { createRoute, z } from "@hono/zod-openapi";
import type { App } from "../../http/context.ts";
import { errorResponses } from "../../http/problem.ts";

const HealthSchema = z.object({ status: z.literal("ok") }).openapi("Health");
const ReadySchema = z
  .object({
    status: z.enum(["ready", "unavailable"]),
    checks: z.record(z.string(), z.object({ ok: z.boolean(), detail: z.string().optional() })),
  })
  .openapi("Readiness");

export const healthRoute = createRoute({
  method: "get",
  path: "/healthz",
  tags: ["Operations"],
  summary: "Liveness",
  description: "Answers 200 while the process is up. Checks nothing else.",
  responses: {
    200: { description: "The process is up", content: { "application/json": { schema: HealthSchema } } },
  },
});

export const readyRoute = createRoute({
  method: "get",
  path: "/readyz",
  tags: ["Operations"],
  summary: "Readiness",
  description:
    "Answers 200 when the database answers and the rate limiter can decide, 503 otherwise. `checks` says what was checked (a Redis outage covered by the in-memory fallback is reported there, still ready).",
  responses: {
    200: { description: "Ready to serve", content: { "application/json": { schema: ReadySchema } } },
    503: { description: "A dependency is down", content: { "application/json": { schema: ReadySchema } } },
    ...errorResponses("internal_error"),
  },
});

export function registerHealthRoutes(app: App): void {
  app.openapi(healthRoute, (c) => c.json({ status: "ok" as const }, 200));
  app.openapi(readyRoute, async (c) => {
    const { db } = c.var.services;
    const checks: Record<string, { ok: boolean; detail?: string }> = {};
    try {
      await Promise.race([
        db.ping(),
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error("timed out after 2 s")), 2_000).unref?.(),
        ),
      ]);
      checks.database = { ok: true, detail: db.kind };
    } catch (error) {
      checks.database = { ok: false, detail: `${db.kind}: ${(error as Error).message}` };
    }
    // Redis down with the in-memory fallback is still ready (detail says so); fail-closed is not.
    const limiter = c.var.services.rateLimiter.health();
    checks.rate_limiter = { ok: limiter.ok, detail: limiter.detail };
    const ok = Object.values(checks).every((check) => check.ok);
    if (ok) return c.json({ status: "ready" as const, checks }, 200);
    return c.json({ status: "unavailable" as const, checks }, 503);
  });
}
