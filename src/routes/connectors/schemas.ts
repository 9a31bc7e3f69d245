import { Buffer } from "node:buffer";
import { z } from "@hono/zod-openapi";
import type { JobRow } from "../../domain/connectors/jobs.ts";
import {
  DefaultsSchema,
  inboundUrl,
  MagentoCredentials,
  MagentoSettings,
  platforms,
  ShopifyCredentials,
  ShopifySettings,
  VtexCredentials,
  VtexSettings,
  WooCommerceCredentials,
  WooCommerceSettings,
} from "../../domain/connectors/platforms.ts";
import type { ConnectorRow, DeliveryRow } from "../../domain/connectors/store.ts";
import { vtexBaseUrl } from "../../domain/connectors/worker.ts";

export const ConnectorIdParam = z.object({
  id: z
    .string()
    .openapi({ param: { name: "id", in: "path" }, example: "5b1c7f0e-8a34-4c55-9d0f-3f6a2b1c9e77" }),
});

const common = {
  name: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .optional()
    .openapi({ description: "A label for people. Default: the platform.", example: "Tienda principal" }),
  enabled: z
    .boolean()
    .optional()
    .openapi({ description: "A disabled connector refuses deliveries (403) and stops polling." }),
  external_id_prefix: z
    .string()
    .max(40)
    .regex(/^[\x21-\x7e]*$/, "printable ASCII without spaces")
    .optional()
    .openapi({
      description:
        "Prepended to the platform's order id to form the order's `external_id`. Defaults: `shopify:`, `woo:`, `vtex:`, `magento:`. Give two stores of one platform different prefixes.",
      example: "shopify:",
    }),
  defaults: DefaultsSchema.optional(),
};

export const CreateConnectorSchema = z
  .discriminatedUnion("platform", [
    z.strictObject({
      platform: z.literal("shopify"),
      ...common,
      settings: ShopifySettings.optional(),
      credentials: ShopifyCredentials,
    }),
    z.strictObject({
      platform: z.literal("woocommerce"),
      ...common,
      settings: WooCommerceSettings.optional(),
      credentials: WooCommerceCredentials.optional(),
    }),
    z.strictObject({
      platform: z.literal("vtex"),
      ...common,
      settings: VtexSettings,
      credentials: VtexCredentials,
    }),
    z.strictObject({
      platform: z.literal("magento"),
      ...common,
      settings: MagentoSettings.optional(),
      credentials: MagentoCredentials.optional(),
    }),
  ])
  .openapi("CreateConnectorRequest", {
    example: {
      platform: "shopify",
      name: "Tienda principal",
      credentials: { webhook_secret: "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" },
      defaults: { package_weight_kg: 1, service_level: "standard" },
    },
  });
export type CreateConnectorInput = z.infer<typeof CreateConnectorSchema>;

export const UpdateConnectorSchema = z
  .strictObject({
    name: common.name,
    enabled: common.enabled,
    external_id_prefix: common.external_id_prefix,
    defaults: z
      .strictObject({
        package_weight_kg: z.number().positive().max(1000).nullable().optional(),
        service_level: DefaultsSchema.shape.service_level.unwrap().nullable().optional(),
        packaging: DefaultsSchema.shape.packaging.unwrap().nullable().optional(),
      })
      .optional()
      .openapi({ description: "Merged into the current defaults; `null` removes one." }),
    settings: z.record(z.string(), z.unknown()).optional().openapi({
      description: "Merged into the current settings (`null` removes one), then validated as on creation.",
    }),
    credentials: z.record(z.string(), z.string().nullable()).optional().openapi({
      description: "Replaces the named credentials (`null` removes an optional one); others are kept.",
    }),
  })
  .openapi("UpdateConnectorRequest");

export const ConnectorSchema = z
  .object({
    id: z.uuid(),
    object: z.literal("connector"),
    platform: z.enum(platforms),
    name: z.string(),
    mode: z.enum(["live", "test"]),
    enabled: z.boolean(),
    inbound_url: z.string().openapi({
      description: "The URL to paste into the platform (webhook delivery URL, VTEX hook URL).",
      example: "https://api.cellvi.com/v1/inbound/shopify/5b1c7f0e-8a34-4c55-9d0f-3f6a2b1c9e77",
    }),
    external_id_prefix: z.string(),
    settings: z.record(z.string(), z.unknown()),
    defaults: DefaultsSchema,
    credentials_set: z.array(z.string()).openapi({
      description: "Which credentials are stored (names only: credentials are never returned).",
      example: ["webhook_secret"],
    }),
    setup: z.array(z.string()).openapi({ description: "What to do in the platform's admin, step by step." }),
    poll: z
      .object({
        cursor: z.number().nullable(),
        last_polled_at: z.string().nullable(),
        last_error: z.string().nullable(),
        next_poll_at: z.string().nullable(),
      })
      .nullable()
      .openapi({ description: "Magento poller state; null for other platforms and when polling is off." }),
    last_delivery_at: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("Connector");

export const CreatedConnectorSchema = ConnectorSchema.extend({
  generated_credentials: z.record(z.string(), z.string()).openapi({
    description: "Secrets generated for you (WooCommerce webhook secret, hook tokens). Shown this once.",
    example: { webhook_secret: "cvh_f3Jk9..." },
  }),
}).openapi("CreatedConnector");

export const ConnectorListSchema = z
  .object({ object: z.literal("list"), data: z.array(ConnectorSchema), has_more: z.literal(false) })
  .openapi("ConnectorList");

function setupSteps(row: ConnectorRow, url: string): string[] {
  const settings = row.settings;
  switch (row.platform) {
    case "shopify":
      return [
        "Shopify admin > Settings > Notifications > Webhooks > Create webhook.",
        `Event: Order creation. Format: JSON. URL: ${url}. API version: the latest stable one.`,
        'Shopify signs the webhooks with the key shown there ("Your webhooks will be signed with ..."); for an app, with its client secret. That key is this connector\'s credentials.webhook_secret (change it with PATCH).',
      ];
    case "woocommerce":
      return [
        "WordPress admin > WooCommerce > Settings > Advanced > Webhooks > Add webhook.",
        `Status: Active. Topic: Order created. Delivery URL: ${url}. API version: WP REST API Integration v3.`,
        "Secret: this connector's webhook_secret (shown once, in generated_credentials, when it was created).",
        `Orders are shipped when their status is one of: ${(settings.statuses as string[] | undefined)?.join(", ") ?? "processing"}. Add a second webhook with Topic: Order updated so an order paid later ships then.`,
      ];
    case "vtex": {
      const header = String(settings.hook_header_name);
      return [
        `Create an app key (Account settings > Apps > Security > Keys) whose role may view orders (OMS: View order); it is credentials.app_key and app_token.`,
        `Configure the Orders hook: POST ${vtexBaseUrl(settings as { account: string; base_url?: string })}/api/orders/hook/config with {"filter":{"type":"FromWorkflow","status":["ready-for-handling"]},"hook":{"url":"${url}","headers":{"${header}":"<hook_token>"}}}.`,
        "<hook_token> is this connector's hook_token (shown once, in generated_credentials, when it was created).",
      ];
    }
    case "magento": {
      const header = String(settings.hook_header_name);
      return [
        `Adobe Commerce: add a webhook on observer.sales_order_place_after (fields: order) with URL ${url}, header ${header}: <hook_token>, and required="false" so checkout never waits on it. Optionally enable webhook signatures and set settings.webhook_public_key.`,
        "Magento Open Source: System > Extensions > Integrations > Add New Integration, resource Sales > Operations > Orders; activate it and set credentials.access_token to its Access Token, settings.base_url to https://<shop>/rest/default and settings.poll_enabled to true.",
      ];
    }
  }
}

export function toConnector(row: ConnectorRow, baseUrl: string, pollJob: JobRow | null) {
  const url = inboundUrl(baseUrl, row.platform, row.id);
  const polling = row.platform === "magento" && row.settings.poll_enabled === true;
  return {
    id: row.id,
    object: "connector" as const,
    platform: row.platform,
    name: row.name,
    mode: row.mode,
    enabled: row.enabled,
    inbound_url: url,
    external_id_prefix: row.external_id_prefix,
    settings: row.settings,
    defaults: row.defaults,
    credentials_set: row.credential_names,
    setup: setupSteps(row, url),
    poll: polling
      ? {
          cursor: row.poll_cursor,
          last_polled_at: row.last_polled_at?.toISOString() ?? null,
          last_error: row.last_poll_error,
          next_poll_at: pollJob && pollJob.status !== "failed" ? pollJob.run_at.toISOString() : null,
        }
      : null,
    last_delivery_at: row.last_delivery_at?.toISOString() ?? null,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export const deliveryStatuses = ["pending", "created", "duplicate", "skipped", "rejected", "failed"] as const;

export const DeliverySchema = z
  .object({
    id: z.uuid(),
    object: z.literal("connector_delivery"),
    connector_id: z.uuid(),
    delivery_key: z
      .string()
      .openapi({ description: "The platform's delivery id (X-Shopify-Webhook-Id, ...)." }),
    topic: z.string().nullable(),
    platform_order_id: z.string().nullable(),
    external_id: z.string().nullable(),
    status: z.enum(deliveryStatuses).openapi({
      description:
        "`created`: the order was created. `duplicate`: its external_id existed (order_id is that order). `skipped`: acknowledged on purpose (detail says why). `rejected`: could not be mapped (errors name the fields). `pending`: waiting for the order to be read from the platform. `failed`: reading it failed for good (retry it).",
    }),
    order_id: z.string().nullable(),
    detail: z.string().nullable(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })),
    attempts: z.number().int().openapi({ description: "How many times the platform sent this delivery." }),
    received_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("ConnectorDelivery");

export function toDelivery(row: DeliveryRow) {
  return {
    id: row.id,
    object: "connector_delivery" as const,
    connector_id: row.connector_id,
    delivery_key: row.delivery_key,
    topic: row.topic,
    platform_order_id: row.platform_order_id,
    external_id: row.external_id,
    status: row.status,
    order_id: row.order_id,
    detail: row.detail,
    errors: row.errors,
    attempts: row.attempts,
    received_at: row.received_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export const encodeDeliveryCursor = (seq: number) => Buffer.from(`d:${seq}`).toString("base64url");
export function decodeDeliveryCursor(cursor: string): number | null {
  const match = /^d:(\d{1,15})$/.exec(Buffer.from(cursor, "base64url").toString("utf8"));
  return match ? Number(match[1]) : null;
}
