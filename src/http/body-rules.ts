import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { AppEnv } from "./context.ts";
import { ApiError } from "./problem.ts";

export const defaultBodyLimitBytes = 1024 * 1024;

/**
 * Routes that accept something other than JSON, or more than 1 MiB, say so here; every other write is JSON of at
 * most 1 MiB. Each entry is matched against the request path.
 */
export interface BodyRule {
  path: RegExp;
  /** Accepted media types (without parameters). */
  mediaTypes: string[];
  maxBytes?: number;
  /**
   * The route reads the body as a stream and enforces `maxBytes` itself while reading (see
   * `limitBodyStream`): only a declared Content-Length is checked here, so a chunked upload is never buffered.
   */
  streamed?: boolean;
}

const mebibytes = (count: number) => count * 1024 * 1024;

export const bodyRules: BodyRule[] = [
  // Connectors (issue 7): platforms' webhooks (WooCommerce pings form-encoded), batch and file imports of orders.
  {
    path: /^\/v1\/inbound\/woocommerce\//,
    mediaTypes: ["application/json", "application/x-www-form-urlencoded"],
    maxBytes: mebibytes(5),
  },
  { path: /^\/v1\/inbound\//, mediaTypes: ["application/json"], maxBytes: mebibytes(5) },
  { path: /^\/v1\/orders\/batch$/, mediaTypes: ["application/json"], maxBytes: mebibytes(16) },
  {
    path: /^\/v1\/imports\/csv$/,
    mediaTypes: ["text/csv"],
    maxBytes: mebibytes(1024),
    streamed: true,
  },
  {
    path: /^\/v1\/imports\/sap-idoc$/,
    mediaTypes: ["application/xml", "text/xml"],
    maxBytes: mebibytes(16),
  },
  { path: /^\/v1\/imports\/dynamics$/, mediaTypes: ["application/json"], maxBytes: mebibytes(16) },
];

const jsonTypes = ["application/json"];
const methodsWithBody = new Set(["POST", "PUT", "PATCH"]);

function ruleFor(path: string): BodyRule | undefined {
  return bodyRules.find((rule) => rule.path.test(path));
}

function hasBody(request: Request): boolean {
  const length = request.headers.get("content-length");
  if (length !== null) return length !== "0";
  if (request.headers.has("transfer-encoding")) return true;
  // An HTTP/1.1 request with neither header has no body (RFC 9112 §6.3), yet the Node adapter still gives it a
  // (empty) stream: `curl -X POST` of a bodiless action must not be a 415. In-process requests carry no length, so
  // a stream with a declared content type still counts as a body.
  return request.body !== null && request.headers.has("content-type");
}

/** The media type of a Content-Type header, without parameters, lower-cased ("" when absent). */
export function mediaTypeOf(contentType: string | undefined): string {
  return (contentType ?? "").split(";")[0]!.trim().toLowerCase();
}

/** Whether a media type (without parameters) is JSON: `application/json` or a `+json` type. */
export function isJsonMediaType(mediaType: string): boolean {
  return (
    mediaType === "application/json" || (mediaType.startsWith("application/") && mediaType.endsWith("+json"))
  );
}

/** 415 for a body in a media type the route does not take. */
function checkContentType(c: Context<AppEnv>): void {
  if (!hasBody(c.req.raw)) return;
  const accepted = ruleFor(c.req.path)?.mediaTypes ?? jsonTypes;
  const mediaType = mediaTypeOf(c.req.header("content-type"));
  const ok =
    accepted.includes(mediaType) || (isJsonMediaType(mediaType) && accepted.includes("application/json"));
  if (!ok) throw new ApiError("unsupported_media_type", wrongMediaType(accepted, mediaType));
}

/**
 * What a 415 says: what the endpoint takes, what came, and the header to send. The most common case gets its cause:
 * `curl -d` without `-H "Content-Type: application/json"` sends `application/x-www-form-urlencoded`.
 */
function wrongMediaType(accepted: readonly string[], mediaType: string): string {
  const takes = accepted.length === 1 ? accepted[0] : `one of ${accepted.join(", ")}`;
  const fix = `Send the body with the header Content-Type: ${accepted[0]}.`;
  if (mediaType === "")
    return `This endpoint accepts ${takes}, and the request has no Content-Type header. ${fix}`;
  const curl =
    mediaType === "application/x-www-form-urlencoded" && accepted.includes("application/json")
      ? ' (curl -d sends that unless you add -H "Content-Type: application/json")'
      : "";
  return `This endpoint accepts ${takes}; the request was sent as ${mediaType}${curl}. ${fix}`;
}

const limiters = new Map<number, ReturnType<typeof bodyLimit>>();
function limiterOf(maxSize: number) {
  let limiter = limiters.get(maxSize);
  if (!limiter) {
    limiter = bodyLimit({
      maxSize,
      onError: () => {
        throw new ApiError("payload_too_large", `The request body must not exceed ${maxSize} bytes.`);
      },
    });
    limiters.set(maxSize, limiter);
  }
  return limiter;
}

/** 413 for a body over the route's limit (1 MiB unless a rule says otherwise), checked while it streams in. */
const checkSize: MiddlewareHandler<AppEnv> = (c, next) => {
  const rule = ruleFor(c.req.path);
  if (rule?.streamed) {
    const declared = Number(c.req.header("content-length") ?? "0");
    if (declared > (rule.maxBytes ?? defaultBodyLimitBytes)) {
      throw new ApiError("payload_too_large", `The request body must not exceed ${rule.maxBytes} bytes.`);
    }
    return next();
  }
  const maxBytes = rule?.maxBytes ?? defaultBodyLimitBytes;
  // A declared length without chunking is all Hono's bodyLimit checks too, but it first reads `c.req.raw.body`,
  // which makes the Node adapter build a whole undici Request (streams, an abort signal) where the JSON body would
  // otherwise be read straight from the socket: about 5 % of order creation's CPU in its profile.
  const declared = c.req.header("content-length");
  if (declared !== undefined && c.req.header("transfer-encoding") === undefined) {
    if (Number.parseInt(declared, 10) > maxBytes) {
      throw new ApiError("payload_too_large", `The request body must not exceed ${maxBytes} bytes.`);
    }
    return next();
  }
  return limiterOf(maxBytes)(c, next);
};

/**
 * The body rules of a write (POST, PUT, PATCH): 415 for a media type the route does not take, then 413 for a body
 * over its limit. Other methods pass straight through.
 */
export const bodyGuard: MiddlewareHandler<AppEnv> = (c, next) => {
  if (!methodsWithBody.has(c.req.method)) return next();
  checkContentType(c);
  return checkSize(c, next);
};

/**
 * For `streamed` routes: the request body as a stream that errors with 413 `payload_too_large` once more than
 * `maxBytes` have gone through it, without holding more than one chunk.
 */
export function limitBodyStream(
  body: ReadableStream<Uint8Array>,
  maxBytes: number,
): ReadableStream<Uint8Array> {
  let seen = 0;
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.byteLength;
        if (seen > maxBytes) {
          controller.error(
            new ApiError("payload_too_large", `The request body must not exceed ${maxBytes} bytes.`),
          );
          return;
        }
        controller.enqueue(chunk);
      },
    }),
  );
}

export function bodyRuleFor(path: string): BodyRule | undefined {
  return ruleFor(path);
}
