import { createHash } from "node:crypto";
import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { IntakeResult } from "../../domain/connectors/inbound.ts";
import type { Platform } from "../../domain/connectors/platforms.ts";
import { type ConnectorRow, getConnectorById } from "../../domain/connectors/store.ts";
import type { AppEnv } from "../../http/context.ts";
import { ApiError, errorResponses } from "../../http/problem.ts";
import { openConnectorCredentials } from "./create.ts";
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

export const inboundErrorResponses = errorResponses(
  "invalid_json",
  "validation_failed",
  "invalid_signature",
  "forbidden",
  "not_found",
  "payload_too_large",
  "unsupported_media_type",
  "internal_error",
  "service_unavailable",
);

export interface InboundConnector {
  connector: ConnectorRow;
  credentials: Record<string, string>;
}

/** The connector an inbound URL names, with its credentials opened. 404 for an unknown id or another platform. */
export async function loadInboundConnector(
  c: Context<AppEnv>,
  platform: Platform,
  id: string,
): Promise<InboundConnector> {
  const services = c.var.services;
  const connector = await getConnectorById(services.db, id);
  if (!connector || connector.platform !== platform)
    throw new ApiError("not_found", `No ${platform} connector at this URL.`);
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
