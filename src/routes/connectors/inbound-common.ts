import { createHash } from "node:crypto";
import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { IntakeResult } from "../../domain/connectors/inbound.ts";
import type { Platform } from "../../domain/connectors/platforms.ts";
import { type ConnectorRow, getConnectorById } from "../../domain/connectors/store.ts";
import { isUuid } from "../../domain/keys/store.ts";
import type { AppEnv } from "../../http/context.ts";
import { ApiError, errorResponses } from "../../http/problem.ts";
import { requestAddress } from "../../http/rate-limit.ts";
import { openConnectorCredentials } from "./create.ts";
import { inboundFailures } from "./inbound-failures.ts";
import { deliveryStatuses } from "./schemas.ts";

/**
 * Shared by the inbound endpoints that platforms call. They carry no API key: the connector id in the URL says
 * which connector, and the platform proves itself its own way (an HMAC of the raw body, a shared hook token, an
 * RSA signature) before anything is parsed or stored. A request that fails that proof creates nothing, not even a
 * log row, since anyone on the internet can send one.
 */

export const InboundParams = z.object({
  connector_id: z.string().openapi({
    param: { name: "connector_id", in: "path" },
    example: "5b1c7f0e-8a34-4c55-9d0f-3f6a2b1c9e77",
  }),
});

export const InboundAckSchema = z
  .object({
    received: z.literal(true),
    ping: z
      .boolean()
      .optional()
      .openapi({ description: "True for the platform's set-up ping, which creates nothing." }),
    delivery_id: z.uuid().optional(),
    status: z.enum(deliveryStatuses).optional(),
    order_id: z.string().nullable().optional(),
    tracking_number: z.string().optional(),
    replayed: z
      .boolean()
      .optional()
      .openapi({ description: "The platform sent this delivery before; its first outcome is repeated." }),
    detail: z.string().nullable().optional(),
  })
  .openapi("InboundAck");

const commonErrorResponses = errorResponses(
  "invalid_json",
  "validation_failed",
  "invalid_signature",
  "forbidden",
  "not_found",
  "quota_exceeded",
  "payload_too_large",
  "unsupported_media_type",
  "internal_error",
  "service_unavailable",
);

export const inboundErrorResponses = {
  ...commonErrorResponses,
  429: {
    ...commonErrorResponses[429]!,
    description:
      "`quota_exceeded`: this client address named connectors that do not exist (404) more than INBOUND_FAILURE_LIMIT_PER_MINUTE times a minute; until `Retry-After`, only connectors seen to exist a moment ago are served to it. Signature failures never count.",
  },
};

/**
 * Spread into each inbound route: only lookups of connectors that do not exist are counted (per address), so the
 * document shows the RateLimit headers on the 429 and not on every response.
 */
export const inboundRateLimited = { "x-rate-limited": "failures" } as const;

export interface InboundConnector {
  connector: ConnectorRow;
  credentials: Record<string, string>;
}

/**
 * The connector an inbound URL names, with its credentials opened. 404 for an unknown id or another platform, which
 * counts against the client address; an address over its budget gets 429 without a lookup, except for connectors
 * seen to exist a moment ago (`inbound-failures.ts`). A malformed id costs no lookup and is not counted.
 */
export async function loadInboundConnector(
  c: Context<AppEnv>,
  platform: Platform,
  id: string,
): Promise<InboundConnector> {
  const services = c.var.services;
  const wellFormed = isUuid(id);
  const failures = inboundFailures(services);
  if (wellFormed && !failures.known.has(platform, id)) failures.throttle.refuseIfBlocked(requestAddress(c));
  const connector = wellFormed ? await getConnectorById(services.db, id) : null;
  if (!connector || connector.platform !== platform) {
    if (wellFormed) {
      failures.known.forget(platform, id);
      await failures.throttle.recordFailure(c);
    }
    throw new ApiError("not_found", `No ${platform} connector at this URL.`);
  }
  failures.known.remember(platform, id);
  if (!connector.enabled) {
    throw new ApiError(
      "forbidden",
      "This connector is disabled; enable it with PATCH /v1/connectors/{id} to receive orders again.",
    );
  }
  return { connector, credentials: openConnectorCredentials(services, connector) };
}

export async function rawBody(c: Context<AppEnv>): Promise<Uint8Array> {
  return new Uint8Array(await c.req.arrayBuffer());
}

/** JSON from the exact bytes that were verified (never a re-serialisation). */
export function parseJsonBody(body: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch {
    throw new ApiError("invalid_json", "The request body is not valid UTF-8 JSON.");
  }
}

/** A delivery key when the platform sends no delivery id: the body's hash, so an identical resend is recognised. */
export function bodyKey(body: Uint8Array): string {
  return `sha256:${createHash("sha256").update(body).digest("hex")}`;
}

export function invalidSignature(detail: string): ApiError {
  return new ApiError("invalid_signature", detail);
}

/**
 * The response to an accepted delivery: 200 with what became of it, or (when it could not be mapped) 400 naming
 * each field, after the rejection was recorded, so the platform's delivery log shows the failure too.
 */
export function ackOrReject(c: Context<AppEnv>, result: IntakeResult, extra: Record<string, unknown> = {}) {
  const delivery = result.delivery;
  if (delivery.status === "rejected") {
    throw new ApiError(
      "validation_failed",
      "The order cannot be mapped to a shipment; fix the fields below (or the connector's defaults) and resend.",
      { errors: delivery.errors, delivery_id: delivery.id },
    );
  }
  return c.json(
    {
      ...extra,
      received: true as const,
      delivery_id: delivery.id,
      status: delivery.status,
      order_id: delivery.order_id,
      ...(result.trackingNumber ? { tracking_number: result.trackingNumber } : {}),
      replayed: result.replayed,
      detail: delivery.detail,
    },
    200,
  );
}

/** A JSON body schema for the documentation only: inbound bodies are verified as raw bytes, then parsed by hand. */
export function documentedBody(
  description: string,
  example: unknown,
  mediaTypes: string[] = ["application/json"],
) {
  return {
    required: true,
    description,
    content: Object.fromEntries(
      mediaTypes.map((type) => [type, { schema: { type: "object" as const }, example }]),
    ),
  };
}
