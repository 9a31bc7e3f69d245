import "../validation-messages.ts";
import { randomBytes } from "node:crypto";
import { z } from "@hono/zod-openapi";
import { serviceLevels } from "../orders/schemas.ts";
import type { MappingDefaults } from "./mapping.ts";
import { isPublicKeyPem } from "./signatures.ts";

/**
 * What each platform's connector is configured with: non-secret settings (stored and returned as they are) and
 * credentials (sealed at rest, never returned). One schema per platform, used by the API to validate a create and a
 * merged update alike, so a connector in the database is always one the code can run.
 */

export const platforms = ["shopify", "woocommerce", "vtex", "magento"] as const;
export type Platform = (typeof platforms)[number];

export const DefaultsSchema = z
  .strictObject({
    package_weight_kg: z.number().positive().max(1000).optional().openapi({
      description: "Weight of a package whose items carry no weight (WooCommerce never sends weights).",
      example: 1,
    }),
    service_level: z.enum(serviceLevels).optional().openapi({ example: "standard" }),
    packaging: z.enum(["single", "per_line"]).optional().openapi({
      description:
        "`single` (default): one package for the whole order. `per_line`: one package per order line.",
      example: "single",
    }),
  })
  .openapi("ConnectorDefaults");
export type ConnectorDefaults = z.infer<typeof DefaultsSchema>;

export function mappingDefaults(defaults: ConnectorDefaults): MappingDefaults {
  return {
    packageWeightKg: defaults.package_weight_kg,
    serviceLevel: defaults.service_level,
    packaging: defaults.packaging,
  };
}

const secret = z.string().min(8, "must be at least 8 characters").max(500);
const headerName = z
  .string()
  .regex(/^[A-Za-z0-9-]{1,64}$/, "must be an HTTP header name")
  .refine(
    (name) =>
      !["authorization", "content-type", "content-length", "host", "cookie"].includes(name.toLowerCase()),
    {
      message: "pick a header of your own, such as X-Cellvi-Hook-Token",
    },
  );
const httpUrl = z
  .url({ protocol: /^https?$/, message: "must be an http(s) URL" })
  .max(500)
  .transform((url) => url.replace(/\/+$/, ""));

export const defaultHookHeader = "X-Cellvi-Hook-Token";

export const ShopifySettings = z.strictObject({
  shop_domain: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]*\.myshopify\.com$/, "must be the shop's myshopify.com domain")
    .optional()
    .openapi({
      description: "When set, deliveries whose X-Shopify-Shop-Domain differs are refused.",
      example: "tienda-cafe.myshopify.com",
    }),
});
export const ShopifyCredentials = z.strictObject({
  webhook_secret: secret.openapi({
    description:
      "The key Shopify signs webhooks with: the app's client secret, or for webhooks made in the admin the key shown under Settings > Notifications > Webhooks.",
  }),
});

export const WooCommerceSettings = z.strictObject({
  statuses: z
    .array(z.string().regex(/^[a-z0-9_-]{1,50}$/))
    .min(1)
    .default(["processing"])
    .openapi({
      description: "Order statuses that are shipped; others are skipped visibly.",
      example: ["processing"],
    }),
});
export const WooCommerceCredentials = z.strictObject({
  webhook_secret: secret.optional().openapi({
    description: "The webhook's Secret field in WooCommerce. Generated (and shown once) when omitted.",
  }),
});

export const VtexSettings = z.strictObject({
  account: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,79}$/i, "must be the VTEX account name")
    .openapi({
      description: "The VTEX account; hooks from another `Origin.Account` are refused.",
      example: "tiendacafe",
    }),
  base_url: httpUrl.optional().openapi({
    description: "OMS API base URL. Default: https://{account}.vtexcommercestable.com.br",
    example: "https://tiendacafe.vtexcommercestable.com.br",
  }),
  hook_header_name: headerName.default(defaultHookHeader).openapi({
    description: "The header you add to the hook configuration (`hook.headers`), carrying the hook token.",
  }),
  states: z
    .array(z.string().regex(/^[a-z0-9-]{1,60}$/))
    .min(1)
    .default(["ready-for-handling"])
    .openapi({ description: "Order states that create an order; other notifications are skipped visibly." }),
});
export const VtexCredentials = z.strictObject({
  app_key: z
    .string()
    .min(1)
    .max(200)
    .openapi({ description: "X-VTEX-API-AppKey of an app key allowed to read orders." }),
  app_token: z.string().min(1).max(500).openapi({ description: "X-VTEX-API-AppToken of that key." }),
  hook_token: secret
    .optional()
    .openapi({ description: "Value of the hook header. Generated (and shown once) when omitted." }),
});

export const MagentoSettings = z
  .strictObject({
    base_url: httpUrl.optional().openapi({
      description:
        "REST base the poller calls, up to and without `/V1`: https://shop.example.com/rest/default",
      example: "https://shop.example.com/rest/default",
    }),
    poll_enabled: z
      .boolean()
      .default(false)
      .openapi({ description: "Pull new orders from GET /V1/orders (Magento Open Source)." }),
    poll_interval_seconds: z.number().int().min(60).max(86_400).default(300),
    poll_since: z.iso.datetime({ offset: true }).optional().openapi({
      description: "Only orders created at or after this time are pulled. Default: when polling was enabled.",
    }),
    weight_unit: z.enum(["kgs", "lbs"]).default("kgs").openapi({ description: "The store's weight unit." }),
    hook_header_name: headerName.default(defaultHookHeader),
    webhook_public_key: z
      .string()
      .max(10_000)
      .refine(isPublicKeyPem, "must be a PEM public key (-----BEGIN PUBLIC KEY-----)")
      .optional()
      .openapi({
        description:
          "Adobe Commerce webhook signature key (Stores > Configuration > Adobe Services > Webhooks). When set, x-adobe-commerce-webhook-signature is verified.",
      }),
  })
  .refine((settings) => !settings.poll_enabled || settings.base_url !== undefined, {
    message: "base_url is required when poll_enabled is true",
    path: ["base_url"],
  });
export const MagentoCredentials = z.strictObject({
  access_token: z.string().min(1).max(500).optional().openapi({
    description: "Integration access token (System > Integrations), sent as a bearer token by the poller.",
  }),
  hook_token: secret
    .optional()
    .openapi({ description: "Value of the webhook header. Generated (and shown once) when omitted." }),
});

export const platformSchemas = {
  shopify: { settings: ShopifySettings, credentials: ShopifyCredentials, prefix: "shopify:" },
  woocommerce: { settings: WooCommerceSettings, credentials: WooCommerceCredentials, prefix: "woo:" },
  vtex: { settings: VtexSettings, credentials: VtexCredentials, prefix: "vtex:" },
  magento: { settings: MagentoSettings, credentials: MagentoCredentials, prefix: "magento:" },
} as const;

export type ShopifyConfig = {
  settings: z.infer<typeof ShopifySettings>;
  credentials: z.infer<typeof ShopifyCredentials>;
};
export type WooCommerceConfig = {
  settings: z.infer<typeof WooCommerceSettings>;
  credentials: z.infer<typeof WooCommerceCredentials>;
};
export type VtexConfig = {
  settings: z.infer<typeof VtexSettings>;
  credentials: z.infer<typeof VtexCredentials>;
};
export type MagentoConfig = {
  settings: z.infer<typeof MagentoSettings>;
  credentials: z.infer<typeof MagentoCredentials>;
};

/** The URL a platform calls for this connector: what the API returns as `inbound_url`, ready to paste. */
export function inboundUrl(baseUrl: string, platform: Platform, id: string): string {
  return `${baseUrl}/v1/inbound/${platform}/${id}`;
}

/** A random token for a shared secret we generate (WooCommerce secret, hook headers): 192 bits, URL-safe. */
export function generateToken(): string {
  return `cvh_${randomBytes(24).toString("base64url")}`;
}

/** Credentials we generate when the caller leaves them out. */
export const generatedCredentials: Record<Platform, string[]> = {
  shopify: [],
  woocommerce: ["webhook_secret"],
  vtex: ["hook_token"],
  magento: ["hook_token"],
};

export interface ValidatedPlatformConfig {
  settings: Record<string, unknown>;
  credentials: Record<string, string>;
}

export type PlatformValidation =
  | { ok: true; config: ValidatedPlatformConfig }
  | { ok: false; errors: Array<{ path: string; message: string }> };

/** Validates settings and credentials of a platform together, with paths under `/settings` and `/credentials`. */
export function validatePlatformConfig(
  platform: Platform,
  settings: unknown,
  credentials: unknown,
): PlatformValidation {
  const schemas = platformSchemas[platform];
  const parsedSettings = schemas.settings.safeParse(settings ?? {});
  const parsedCredentials = schemas.credentials.safeParse(credentials ?? {});
  const errors: Array<{ path: string; message: string }> = [];
  if (!parsedSettings.success) {
    for (const issue of parsedSettings.error.issues)
      errors.push({ path: `/settings/${issue.path.join("/")}`, message: issue.message });
  }
  if (!parsedCredentials.success) {
    for (const issue of parsedCredentials.error.issues) {
      errors.push({ path: `/credentials/${issue.path.join("/")}`, message: issue.message });
    }
  }
  if (!parsedSettings.success || !parsedCredentials.success) return { ok: false, errors };
  const config = {
    settings: parsedSettings.data as Record<string, unknown>,
    credentials: parsedCredentials.data as Record<string, string>,
  };
  if (platform === "magento") {
    const magento = config.settings as z.infer<typeof MagentoSettings>;
    if (magento.poll_enabled && !config.credentials.access_token) {
      return {
        ok: false,
        errors: [
          { path: "/credentials/access_token", message: "required when settings.poll_enabled is true" },
        ],
      };
    }
  }
  return { ok: true, config };
}
