import { OpenAPIHono } from "@hono/zod-openapi";
import type { App } from "../../http/context.ts";
import { type ErrorCode, errorCatalog, errorCodes, problemType } from "../../http/problem.ts";
import { exampleFromSchema, type JsonSchema } from "./schema-example.ts";
import {
  type DeliveredEventType,
  deliveredEventTypes,
  describeEvent,
  webhookEventExample,
  webhookEventSchema,
} from "./webhook-events.ts";

/**
 * The OpenAPI 3.0.3 document of the API, generated from the routes registered on the app (their `createRoute`
 * definitions and Zod schemas, the same ones the server validates with) and completed here with what every
 * operation shares, so that a route author writes only what is particular to the operation:
 *
 * - `X-Request-Id` on every response; `RateLimit`/`RateLimit-Policy` on every rate-limited operation (one with a
 *   security requirement or a 429 response) and on every 429, a 429 with `Retry-After` where the route did not
 *   declare one; `Location` on every 201;
 * - an example for every request and response (built from the schemas' field examples when the route gave none),
 *   one problem+json example per error code the route declares;
 * - `security: []` made explicit on public operations, an `operationId` derived from method and path when absent;
 * - the webhook events: `x-webhooks` (one schema and example per type) and a callback on the subscribe operation;
 * - tag descriptions, contact and licence.
 *
 * Nothing here knows a particular route, so operations added by other route groups are completed the same way.
 */

export interface OpenApiDocumentOptions {
  baseUrl: string;
  version: string;
}

interface MediaType {
  schema?: JsonSchema;
  example?: unknown;
  examples?: Record<string, { summary?: string; value: unknown }>;
}
interface HeaderRef {
  $ref: string;
}
interface ResponseObject {
  description: string;
  headers?: Record<string, HeaderRef | Record<string, unknown>>;
  content?: Record<string, MediaType>;
}
interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  schema?: JsonSchema;
  example?: unknown;
  description?: string;
}
export interface Operation {
  operationId?: string;
  summary?: string;
  description?: string;
  tags?: string[];
  security?: Record<string, string[]>[];
  parameters?: Parameter[];
  requestBody?: { required?: boolean; description?: string; content: Record<string, MediaType> };
  responses: Record<string, ResponseObject>;
  callbacks?: Record<string, unknown>;
  [extension: string]: unknown;
}
export type PathItem = Partial<Record<HttpMethod, Operation>>;
export interface OpenApiDocument {
  openapi: string;
  info: Record<string, unknown>;
  servers?: { url: string; description?: string }[];
  tags?: { name: string; description: string }[];
  paths: Record<string, PathItem>;
  components: {
    schemas?: Record<string, JsonSchema>;
    securitySchemes?: Record<string, unknown>;
    headers?: Record<string, unknown>;
    [key: string]: unknown;
  };
  "x-webhooks"?: Record<string, PathItem>;
  [extension: string]: unknown;
}

export const httpMethods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;
export type HttpMethod = (typeof httpMethods)[number];

/** What each tag is about. A tag missing here still gets a description (see `describeTag`). */
const tagDescriptions: Record<string, string> = {
  Operations: "The service's health probes, for load balancers and orchestrators.",
  Orders:
    "Create shipments (one by one, in batches or from ERP files) and read them back. Test keys make test orders.",
  Tracking: "The public tracking view of a shipment, for the recipient and your shop's pages.",
  Webhooks: "Subscriptions that receive signed events as orders move, and their delivery log.",
  "Webhook events": "What CELLVI sends to your webhook URL: one schema per event type.",
  Sandbox: "Move test orders through the real lifecycle to see every event without a driver on the road.",
  Dispatch: "The CELLVI side of an order's life (dispatch console, driver app): keys with the `ops` scope.",
  "API keys": "Your API keys: create, list, rotate and revoke them, and read their audit log.",
  Connectors:
    "Shops and ERPs that create orders by themselves: Shopify, WooCommerce, VTEX, Magento and files.",
  "Inbound (platforms)":
    "The URLs a connected platform calls (its own webhooks, authenticated its own way). Paste them into the platform's admin; you do not call them yourself.",
  Imports: "Orders imported from ERP files (CSV, SAP IDoc, Dynamics) and the progress of each import.",
};

function describeTag(name: string): string {
  return tagDescriptions[name] ?? `Operations on ${name.toLowerCase()}.`;
}

/** Short, realistic `detail`s for the error examples (the real ones name the field, key or order involved). */
const exampleDetails: Partial<Record<ErrorCode, string>> = {
  invalid_json: "The request body is not valid JSON.",
  validation_failed: "1 field is invalid.",
  unauthorized: "The API key is unknown, revoked or expired.",
  invalid_signature: "The payload signature does not match the connector's secret.",
  forbidden: "This API key lacks the `orders:write` scope.",
  not_found: "No order with this id.",
  method_not_allowed: "DELETE is not allowed here; use GET.",
  duplicate_external_id: 'An order with external_id "SO-10045" already exists.',
  invalid_transition: "The order is DELIVERED; it cannot move to EXCEPTION.",
  idempotency_in_progress: "A request with this Idempotency-Key is still running; retry in a moment.",
  payload_too_large: "The request body must not exceed 1048576 bytes.",
  unsupported_media_type:
    "This endpoint accepts application/json; the request was sent as text/plain. Send the body with the header Content-Type: application/json.",
  idempotency_key_reused: "This Idempotency-Key was used with a different request body.",
  quota_exceeded: "This API key may send 100 requests per 60 s. Retry in 12 s.",
  internal_error: "Something went wrong on our side. Retry later; quote the request_id if it persists.",
  service_unavailable: "The service is temporarily unavailable. Retry later.",
};
const exampleExtensions: Partial<Record<ErrorCode, Record<string, unknown>>> = {
  validation_failed: {
    errors: [{ path: "/recipient/phone", message: "required: expected a string, but the field is missing" }],
  },
  forbidden: { required_scope: "orders:write" },
  duplicate_external_id: { existing_order_id: "0b6f5d1e-3c2a-4f7e-9a51-2d7c8e9f0a1b" },
  quota_exceeded: { limit: 100, window_seconds: 60, retry_after_seconds: 12 },
};

const rateLimitHeaders = {
  RateLimit: {
    description:
      'The quota left in the current window, per the IETF RateLimit header fields draft: `"default";r=<remaining>;t=<seconds until it refills>`.',
    schema: { type: "string", example: '"default";r=97;t=58' },
  },
  "RateLimit-Policy": {
    description: 'The limit that applies to this key: `"default";q=<requests>;w=<window in seconds>`.',
    schema: { type: "string", example: '"default";q=100;w=60' },
  },
  "Retry-After": {
    description: "Seconds to wait before retrying.",
    schema: { type: "integer", minimum: 0, example: 12 },
  },
  Location: {
    description:
      "The path of the resource just created (`/v1/orders/{id}`, ...): where to read it from now on.",
    schema: { type: "string", example: "/v1/orders/0b6f5d1e-3c2a-4f7e-9a51-2d7c8e9f0a1b" },
  },
  "X-Request-Id": {
    description: "The request's id, also in every error body as `request_id`. Quote it to support.",
    schema: { type: "string", example: "req_8f14e45fceea167a5a36dedd4bea2543" },
  },
};

function headerRef(name: keyof typeof rateLimitHeaders): HeaderRef {
  return { $ref: `#/components/headers/${name}` };
}

/**
 * Operations whose every request is counted against a rate limit: keyed ones (per key) and those declaring a 429
 * (e.g. per client IP), except those marked `x-rate-limited: failures` (the platforms' inbound endpoints), which
 * count only failed lookups per address: there the RateLimit headers come with the 429 alone.
 */
function isRateLimited(operation: Operation): boolean {
  const keyed = (operation.security ?? []).some((requirement) => Object.keys(requirement).length > 0);
  return keyed || ("429" in operation.responses && operation["x-rate-limited"] !== "failures");
}

function codesOf(response: ResponseObject, status: string): ErrorCode[] {
  const named = [...response.description.matchAll(/`([a-z_]+)`/g)]
    .map((match) => match[1] as ErrorCode)
    .filter((code) => code in errorCatalog);
  if (named.length > 0) return [...new Set(named)];
  return errorCodes.filter((code) => String(errorCatalog[code].status) === status).slice(0, 1);
}

function problemExample(code: ErrorCode, baseUrl: string, instance: string): Record<string, unknown> {
  const entry = errorCatalog[code];
  return {
    type: problemType(baseUrl, code),
    title: entry.title,
    status: entry.status,
    detail: exampleDetails[code] ?? entry.title,
    instance,
    code,
    request_id: "req_8f14e45fceea167a5a36dedd4bea2543",
    ...exampleExtensions[code],
  };
}

/** `/v1/orders/{id}` with its parameters' examples filled in, as an error body's `instance` would show it. */
function concretePath(path: string, parameters: Parameter[] | undefined): string {
  return path.replace(/\{([^}]+)\}/g, (whole, name: string) => {
    const parameter = parameters?.find((p) => p.in === "path" && p.name === name);
    const example = parameter?.example ?? parameter?.schema?.example;
    return example === undefined ? whole : String(example);
  });
}

function derivedOperationId(method: string, path: string): string {
  const words = path
    .split("/")
    .filter((segment) => segment && !segment.startsWith("{") && segment !== "v1")
    .flatMap((segment) => segment.split(/[^a-zA-Z0-9]+/));
  return [method, ...words]
    .filter(Boolean)
    .map((word, i) => (i === 0 ? word.toLowerCase() : word.charAt(0).toUpperCase() + word.slice(1)))
    .join("");
}

function completeOperation(
  operation: Operation,
  method: HttpMethod,
  path: string,
  document: OpenApiDocument,
  baseUrl: string,
): void {
  const schemas = document.components.schemas ?? {};
  operation.operationId ??= derivedOperationId(method, path);
  // An operation that says nothing about security is public; saying so keeps "no security" a visible decision.
  operation.security ??= [];
  operation.summary ??= `${method.toUpperCase()} ${path}`;
  operation.description ??= operation.summary;

  for (const media of Object.values(operation.requestBody?.content ?? {})) {
    if (media.example === undefined && media.examples === undefined) {
      const example = exampleFromSchema(media.schema, schemas);
      if (example !== undefined) media.example = example;
    }
  }

  const limited = isRateLimited(operation);
  if (limited && !("429" in operation.responses)) {
    operation.responses["429"] = {
      description: `\`quota_exceeded\`: ${errorCatalog.quota_exceeded.title}`,
      content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } },
    };
  }
  const instance = concretePath(path, operation.parameters);
  for (const [status, response] of Object.entries(operation.responses)) {
    const headers: Record<string, HeaderRef | Record<string, unknown>> = {
      "X-Request-Id": headerRef("X-Request-Id"),
    };
    // A 401 is answered before the key is known, so before any limit is counted.
    if ((limited && status !== "401") || status === "429") {
      headers.RateLimit = headerRef("RateLimit");
      headers["RateLimit-Policy"] = headerRef("RateLimit-Policy");
    }
    if (status === "429") headers["Retry-After"] = headerRef("Retry-After");
    // Every operation answering 201 sets Location to what it created (test/http/created-location.test.ts).
    if (status === "201") headers.Location = headerRef("Location");
    response.headers = { ...headers, ...response.headers };

    for (const [mediaType, media] of Object.entries(response.content ?? {})) {
      if (media.example !== undefined || media.examples !== undefined) continue;
      if (mediaType === "application/problem+json") {
        media.examples = Object.fromEntries(
          codesOf(response, status).map((code) => [
            code,
            { summary: errorCatalog[code].title, value: problemExample(code, baseUrl, instance) },
          ]),
        );
      } else {
        const example = exampleFromSchema(media.schema, schemas);
        if (example !== undefined) media.example = example;
      }
    }
  }
}

const webhookHeaders: Parameter[] = [
  {
    name: "webhook-id",
    in: "header",
    required: true,
    description: "The event id (`evt_...`), the same on every retry: use it to ignore duplicates.",
    schema: { type: "string", example: "evt_01JDX4W6Z3QF8M2K7N5T9B1C0D" },
  },
  {
    name: "webhook-timestamp",
    in: "header",
    required: true,
    description: "Unix seconds when this attempt was signed. Reject deliveries more than 5 minutes off.",
    schema: { type: "string", example: "1764338591" },
  },
  {
    name: "webhook-signature",
    in: "header",
    required: true,
    description:
      "`v1,` + base64(HMAC-SHA256(secret, `<webhook-id>.<webhook-timestamp>.<body>`)), space-separated when two secrets are active (after a rotation). Standard Webhooks.",
    schema: { type: "string", example: "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=" },
  },
];

const webhookResponses: Record<string, ResponseObject> = {
  "200": {
    description: "Any 2xx acknowledges the delivery; answer within 10 s and do slow work afterwards.",
  },
  "410": { description: "Gone: CELLVI disables the subscription and stops sending." },
  default: {
    description: "Anything else (or a timeout) is a failure: CELLVI retries with exponential backoff.",
  },
};

function webhookOperation(type: DeliveredEventType): Operation {
  const definition = describeEvent(type);
  return {
    operationId: `webhook${schemaName(type).replace("WebhookEvent", "")}`,
    tags: ["Webhook events"],
    summary: `${type}: ${definition.summary}`,
    description:
      type === "WEBHOOK_TEST"
        ? `${definition.description}\n\nSigned per Standard Webhooks, like every delivery.`
        : `${definition.description}\n\nSent to every enabled subscription whose \`events\` include \`${type}\` or \`*\`, signed per Standard Webhooks.`,
    security: [],
    parameters: webhookHeaders,
    requestBody: {
      required: true,
      content: {
        "application/json": {
          schema: { $ref: `#/components/schemas/${schemaName(type)}` },
          example: webhookEventExample(type),
        },
      },
    },
    responses: webhookResponses,
  };
}

function schemaName(type: DeliveredEventType): string {
  return `WebhookEvent${type
    .toLowerCase()
    .split("_")
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join("")}`;
}

/** Component schemas of the webhook events, generated from their Zod schemas by a throwaway registry. */
function webhookComponents(): Record<string, JsonSchema> {
  const scratch = new OpenAPIHono();
  for (const type of deliveredEventTypes)
    scratch.openAPIRegistry.register(schemaName(type), webhookEventSchema(type));
  const generated = scratch.getOpenAPIDocument({ openapi: "3.0.3", info: { title: "events", version: "0" } });
  return (generated.components?.schemas ?? {}) as Record<string, JsonSchema>;
}

/** The subscribe operation (whichever group registers it) gets the events as a callback on its `url`. */
function addWebhookCallback(document: OpenApiDocument): void {
  for (const [path, item] of Object.entries(document.paths)) {
    const operation = item.post;
    if (!operation || !/\/webhooks(\/subscribe)?$/.test(path)) continue;
    operation.callbacks = {
      webhookEvent: {
        "{$request.body#/url}": {
          post: {
            summary: "An event, delivered to your URL",
            description:
              "One POST per event and subscription; see the Webhook events section for every type's payload.",
            // The request is authenticated by its signature (the headers), not by a key.
            security: [],
            parameters: webhookHeaders,
            requestBody: {
              required: true,
              content: {
                "application/json": {
                  schema: {
                    oneOf: deliveredEventTypes.map((type) => ({
                      $ref: `#/components/schemas/${schemaName(type)}`,
                    })),
                    discriminator: {
                      propertyName: "type",
                      mapping: Object.fromEntries(
                        deliveredEventTypes.map((type) => [type, `#/components/schemas/${schemaName(type)}`]),
                      ),
                    },
                  },
                  examples: Object.fromEntries(
                    deliveredEventTypes.map((type) => [
                      type,
                      { summary: type, value: webhookEventExample(type) },
                    ]),
                  ),
                },
              },
            },
            responses: webhookResponses,
          },
        },
      },
    };
  }
}

/**
 * zod-openapi writes two shapes that OpenAPI 3.0 does not allow (`nullable` without a sibling `type`):
 * `allOf: [{$ref}, {nullable: true}]` for a nullable registered schema, and `additionalProperties:
 * {nullable: true}` for `.passthrough()`. Rewrite them to their valid 3.0 equivalents, everywhere in the document.
 */
function normalizeNullable(node: unknown, schemas: Record<string, JsonSchema>): void {
  if (Array.isArray(node)) {
    for (const child of node) normalizeNullable(child, schemas);
    return;
  }
  if (typeof node !== "object" || node === null) return;
  const schema = node as JsonSchema;
  const onlyNullable = (part: unknown) =>
    typeof part === "object" && part !== null && Object.keys(part).length === 1 && "nullable" in part;
  if (onlyNullable(schema.additionalProperties)) schema.additionalProperties = true;
  if (typeof schema.pattern === "string") schema.pattern = patternWithoutFlags(schema.pattern);
  if (Array.isArray(schema.allOf) && schema.allOf.some(onlyNullable)) {
    const rest = schema.allOf.filter((part) => !onlyNullable(part));
    const target = rest[0]?.$ref ? schemas[rest[0].$ref.replace("#/components/schemas/", "")] : rest[0];
    schema.allOf = rest;
    schema.nullable = true;
    schema.type ??= target?.type ?? "object";
  }
  for (const value of Object.values(schema)) normalizeNullable(value, schemas);
}

/**
 * zod-openapi writes a regex with flags as `^...$/i`, which is not an ECMA-262 pattern (OpenAPI patterns have no
 * flags). The only flag a schema can honestly carry is `i`: spell it out (`[a-z]` -> `[a-zA-Z]`, `x` -> `[xX]`).
 */
export function patternWithoutFlags(pattern: string): string {
  // Only an anchored pattern followed by real flags: a pattern that merely ends in "/abc" is left alone.
  const match = /^(.*\$)\/([dgimsuyv]+)$/s.exec(pattern);
  if (!match) return pattern;
  const [, body = "", flags = ""] = match;
  return flags.includes("i") ? caseInsensitive(body) : body;
}

function caseInsensitive(body: string): string {
  let out = "";
  let inClass = false;
  for (let i = 0; i < body.length; i++) {
    const char = body[i]!;
    if (char === "\\") {
      // Escapes keep their letters: \d, \w, \x7e, \u00e1.
      const length = body[i + 1] === "x" ? 4 : body[i + 1] === "u" ? 6 : 2;
      out += body.slice(i, i + length);
      i += length - 1;
      continue;
    }
    if (char === "[") inClass = true;
    else if (char === "]") inClass = false;
    const lower = char.toLowerCase();
    const upper = char.toUpperCase();
    if (lower === upper) {
      out += char;
    } else if (inClass && body[i + 1] === "-" && body[i + 2] && body[i + 2] !== "]") {
      const end = body[i + 2]!;
      out += `${lower}-${end.toLowerCase()}${upper}-${end.toUpperCase()}`;
      i += 2;
    } else {
      out += inClass ? `${lower}${upper}` : `[${lower}${upper}]`;
    }
  }
  return out;
}

export function buildOpenApiDocument(app: App, options: OpenApiDocumentOptions): OpenApiDocument {
  const { baseUrl, version } = options;
  const document = app.getOpenAPIDocument({
    openapi: "3.0.3",
    info: {
      title: "CELLVI Connect API",
      version,
      description: [
        "The public integration API of CELLVI 2.0: create shipments from your ERP or shop, track them, and receive signed webhooks as they move.",
        "",
        `Guides, in Spanish and English: ${baseUrl}/developers. Authenticate with your API key as a bearer token; keys starting with \`cvk_test_\` work on test data only. Errors are RFC 9457 \`application/problem+json\` bodies whose \`code\` is listed at ${baseUrl}/developers/en/errors.`,
      ].join("\n"),
      contact: { name: "CELLVI developer support", url: `${baseUrl}/developers` },
      license: { name: "Proprietary: CELLVI customers only", url: `${baseUrl}/developers/en/versioning` },
    },
    servers: [{ url: baseUrl, description: "CELLVI Connect (your key's prefix selects live or test data)" }],
  }) as unknown as OpenApiDocument;

  document.components.schemas = { ...document.components.schemas, ...webhookComponents() };
  document.components.headers = { ...rateLimitHeaders };
  normalizeNullable(document, document.components.schemas);

  const usedTags = new Set<string>();
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of httpMethods) {
      const operation = item[method];
      if (!operation) continue;
      completeOperation(operation, method, path, document, baseUrl);
      for (const tag of operation.tags ?? []) usedTags.add(tag);
    }
  }
  addWebhookCallback(document);
  document["x-webhooks"] = Object.fromEntries(
    deliveredEventTypes.map((type) => [type, { post: webhookOperation(type) }]),
  );
  usedTags.add("Webhook events");
  document.tags = [...usedTags].map((name) => ({ name, description: describeTag(name) }));
  return document;
}
