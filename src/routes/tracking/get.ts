import { createRoute, z } from "@hono/zod-openapi";
import { getTrackingView, TrackingViewSchema } from "../../domain/orders/tracking.ts";
import type { App } from "../../http/context.ts";
import { ApiError, errorResponses } from "../../http/problem.ts";

const TrackingParams = z.object({
  tracking_number: z
    .string()
    .max(64)
    .openapi({ param: { name: "tracking_number", in: "path" }, example: "CV7K3M9Q2XW4PD" }),
});
const TrackingQuery = z.object({
  token: z
    .string()
    .max(128)
    .optional()
    .openapi({ description: "The order's tracking token.", example: "trk_9fJ2kLmQ8xVbN3cR7tYwZ1aS" }),
});
const TrackingHeaders = z.object({
  "x-tracking-token": z
    .string()
    .max(128)
    .optional()
    .openapi({ description: "The tracking token, as a header instead of `?token=`." }),
});

export const getTrackingRoute = createRoute({
  method: "get",
  path: "/v1/tracking/{tracking_number}",
  tags: ["Tracking"],
  operationId: "getTracking",
  summary: "Track a shipment (public)",
  description:
    "No API key: the caller proves itself with the order's tracking token (`?token=` or `X-Tracking-Token`). Returns the public view only. An unknown number and a wrong token get the same 404. CORS is open to any origin so shops can embed tracking widgets.",
  security: [],
  request: { params: TrackingParams, query: TrackingQuery, headers: TrackingHeaders },
  responses: {
    200: {
      description: "The public tracking view",
      content: { "application/json": { schema: TrackingViewSchema } },
    },
    ...errorResponses("not_found", "quota_exceeded", "internal_error"),
  },
});

export function registerGetTracking(app: App): void {
  app.openapi(getTrackingRoute, async (c) => {
    const token = c.req.valid("query").token ?? c.req.valid("header")["x-tracking-token"];
    const notFound = () => new ApiError("not_found", "No shipment matches this tracking number and token.");
    if (!token) throw notFound();
    const { db, config, clock } = c.get("services");
    const view = await getTrackingView(db, c.req.valid("param").tracking_number, token, {
      averageSpeedKmh: config.ETA_AVERAGE_SPEED_KMH,
      now: clock.now(),
    });
    if (!view) throw notFound();
    c.header("cache-control", "no-store");
    return c.json(view, 200);
  });
}
