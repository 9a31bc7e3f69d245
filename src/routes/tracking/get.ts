import { createRoute, z } from "@hono/zod-openapi";
import { destinationTimeZone } from "../../domain/orders/time-zones.ts";
import { getTrackingView, TrackingViewSchema } from "../../domain/orders/tracking.ts";
import type { App } from "../../http/context.ts";
import { requestHeader } from "../../http/headers.ts";
import { prefersHtml } from "../../http/negotiation.ts";
import { ApiError, errorResponses } from "../../http/problem.ts";
import { preferredLanguage } from "../../portal/i18n.ts";
import { renderTrackingPage, trackingPageHeaders } from "./page.ts";

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

/** The page a browser gets instead of JSON (see page.ts). */
const TrackingPage = z.string().openapi({
  description:
    "A server-rendered HTML page for the recipient, in Spanish or English by `Accept-Language`: sent instead of JSON when `Accept` prefers `text/html` to `application/json` (a browser opening the link). No JavaScript, no external resources.",
  example: '<!doctype html>\n<html lang="es">...<h1 id="status">Conductor asignado</h1>...</html>',
});
const ErrorPage = z.string().openapi({
  description:
    "A small HTML page saying, in the recipient's language, that the link matches no shipment (404, the same for every cause) or to wait and reload (429): sent instead of problem+json when `Accept` prefers `text/html`.",
  example: '<!doctype html>\n<html lang="es">...<h1>No encontramos este envío</h1>...</html>',
});
const errors = errorResponses("not_found", "quota_exceeded", "internal_error");
/** A browser gets 404 and 429 as small pages with the same status (src/app.ts renders them). */
function withErrorPage(status: 404 | 429) {
  const problem = errors[status]!;
  return {
    description: `${problem.description}. A page for a client that prefers HTML.`,
    content: { ...problem.content, "text/html": { schema: ErrorPage } },
  };
}

export const getTrackingRoute = createRoute({
  method: "get",
  path: "/v1/tracking/{tracking_number}",
  tags: ["Tracking"],
  operationId: "getTracking",
  summary: "Track a shipment (public)",
  description:
    "No API key: the caller proves itself with the order's tracking token (`?token=` or `X-Tracking-Token`). Returns the public view only. An unknown number and a wrong token get the same 404. CORS is open to any origin so shops can embed tracking widgets. The same URL is a page for people: a client whose `Accept` prefers `text/html` (a browser) gets a server-rendered HTML page, and its errors (404, 429) as small HTML pages with the same status; any other client gets JSON as documented here.",
  security: [],
  request: { params: TrackingParams, query: TrackingQuery, headers: TrackingHeaders },
  responses: {
    200: {
      description: "The public tracking view",
      content: {
        "application/json": { schema: TrackingViewSchema },
        "text/html": { schema: TrackingPage },
      },
      headers: {
        Vary: { description: "`Accept`: the same URL answers JSON or HTML.", schema: { type: "string" } },
      },
    },
    ...errors,
    404: withErrorPage(404),
    429: withErrorPage(429),
  },
});

export function registerGetTracking(app: App): void {
  app.openapi(getTrackingRoute, async (c) => {
    const token = c.req.valid("query").token ?? c.req.valid("header")["x-tracking-token"];
    const notFound = () => new ApiError("not_found", "No shipment matches this tracking number and token.");
    if (!token) throw notFound();
    const { db, config, clock } = c.get("services");
    const shipment = await getTrackingView(db, c.req.valid("param").tracking_number, token, {
      averageSpeedKmh: config.ETA_AVERAGE_SPEED_KMH,
      now: clock.now(),
    });
    if (!shipment) throw notFound();
    // The same URL is a page for people and JSON for programs: only a client that prefers HTML (a browser opening
    // the link) gets the page; the JSON path pays one substring search for it.
    const accept = requestHeader(c, "accept");
    if (prefersHtml(accept)) {
      const lang = preferredLanguage(requestHeader(c, "accept-language"));
      // Times in the destination's zone (a recipient in Tijuana reads Tijuana's clock), else the configured one.
      const zone = destinationTimeZone(shipment.destination, config.TRACKING_PAGE_TIME_ZONE);
      return c.html(renderTrackingPage(shipment.view, lang, zone), 200, trackingPageHeaders);
    }
    c.header("cache-control", "no-store");
    c.header("vary", "Accept");
    return c.json(shipment.view, 200);
  });
}
