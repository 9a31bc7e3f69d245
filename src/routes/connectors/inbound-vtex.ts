import { createRoute } from "@hono/zod-openapi";
import { recordSkippedDelivery } from "../../domain/connectors/inbound.ts";
import { enqueueVtexFetch } from "../../domain/connectors/jobs.ts";
import type { VtexConfig } from "../../domain/connectors/platforms.ts";
import { tokensEqual } from "../../domain/connectors/signatures.ts";
import { claimDelivery, recordDeliveryOutcome } from "../../domain/connectors/store.ts";
import { parseVtexHook } from "../../domain/connectors/vtex.ts";
import type { App } from "../../http/context.ts";
import { ApiError } from "../../http/problem.ts";
import {
  ackOrReject,
  documentedBody,
  InboundAckSchema,
  InboundParams,
  inboundErrorResponses,
  inboundRateLimited,
  invalidSignature,
  loadInboundConnector,
  parseJsonBody,
  rawBody,
} from "./inbound-common.ts";

export const vtexInboundRoute = createRoute({
  method: "post",
  path: "/v1/inbound/vtex/{connector_id}",
  tags: ["Inbound (platforms)"],
  operationId: "receiveVtexHook",
  summary: "VTEX Orders hook",
  description:
    'Called by VTEX: configure the Orders hook with the connector\'s `inbound_url` and the hook header. `{"hookConfig":"ping"}` gets a 200. A notification is authenticated by the configured header (compared in constant time) and `Origin.Account`, answered at once with status `pending`, and the order is then read from the OMS API (`/api/oms/pvt/orders/{orderId}` with the connector\'s app key and token) in the background, with retries for about a day; follow it in the connector\'s deliveries. Notifications for states the connector does not ship are acknowledged and skipped.',
  security: [],
  ...inboundRateLimited,
  request: {
    params: InboundParams,
    body: documentedBody("The hook notification, or the ping.", {
      Domain: "Fulfillment",
      OrderId: "1389581234567-01",
      State: "ready-for-handling",
      LastChange: "2026-11-22T16:40:12.1234567Z",
      CurrentChange: "2026-11-22T16:41:02.7654321Z",
      Origin: { Account: "tiendacafe", Key: "vtexappkey-tiendacafe-ABCDEF" },
    }),
  },
  responses: {
    200: {
      description: "Received (pending, skipped, or the ping)",
      content: { "application/json": { schema: InboundAckSchema } },
    },
    ...inboundErrorResponses,
  },
});

export function registerVtexInbound(app: App): void {
  app.openapi(vtexInboundRoute, async (c) => {
    const services = c.var.services;
    const body = await rawBody(c);
    const { connector, credentials } = await loadInboundConnector(
      c,
      "vtex",
      c.req.valid("param").connector_id,
    );
    const settings = connector.settings as VtexConfig["settings"];
    const payload = parseJsonBody(body);
    const hook = parseVtexHook(payload);
    // VTEX pings when the hook is saved; answering creates nothing, so it needs no proof.
    if (hook.kind === "ping") return c.json({ received: true as const, ping: true }, 200);
    if (!tokensEqual(credentials.hook_token ?? "", c.req.header(settings.hook_header_name))) {
      throw invalidSignature(
        `The ${settings.hook_header_name} header does not carry this connector's hook token.`,
      );
    }
    if (hook.kind === "invalid") {
      throw new ApiError("validation_failed", "The hook notification is incomplete.", {
        errors: hook.errors,
      });
    }
    if (hook.account.toLowerCase() !== settings.account.toLowerCase()) {
      throw invalidSignature(`Origin.Account "${hook.account}" is not this connector's account.`);
    }
    const delivery = { key: `${hook.orderId}/${hook.state}/${hook.currentChange ?? ""}`, topic: hook.state };
    if (!settings.states.includes(hook.state)) {
      return ackOrReject(
        c,
        await recordSkippedDelivery(
          services.db,
          connector,
          delivery,
          `state ${hook.state} is not one the connector ships (${settings.states.join(", ")})`,
          hook.orderId,
        ),
      );
    }
    const result = await services.db.transaction(async (tx) => {
      const claim = await claimDelivery(tx, connector, delivery.key, delivery.topic);
      if (!claim.isNew && claim.row.status !== "failed" && claim.row.status !== "rejected")
        return { delivery: claim.row, replayed: true };
      const pending = await recordDeliveryOutcome(tx, claim.row.id, {
        status: "pending",
        platformOrderId: hook.orderId,
        detail: "the order will be read from the VTEX OMS",
      });
      await enqueueVtexFetch(tx, connector, claim.row.id, hook.orderId, services.clock.now());
      return { delivery: pending, replayed: false };
    });
    return ackOrReject(c, result);
  });
}
