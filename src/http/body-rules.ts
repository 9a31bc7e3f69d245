import { bodyLimit } from "hono/body-limit";
import { createMiddleware } from "hono/factory";
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
}

export const bodyRules: BodyRule[] = [];

const jsonTypes = ["application/json"];
const methodsWithBody = new Set(["POST", "PUT", "PATCH"]);

function ruleFor(path: string): BodyRule | undefined {
  return bodyRules.find((rule) => rule.path.test(path));
}

function hasBody(request: Request): boolean {
  const length = request.headers.get("content-length");
  if (length !== null) return length !== "0";
  return request.headers.has("transfer-encoding") || request.body !== null;
}

/** 415 for a body in a media type the route does not take. */
export const contentTypeGuard = createMiddleware<AppEnv>(async (c, next) => {
  if (methodsWithBody.has(c.req.method) && hasBody(c.req.raw)) {
    const accepted = ruleFor(c.req.path)?.mediaTypes ?? jsonTypes;
    const mediaType = (c.req.header("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
    const ok =
      accepted.includes(mediaType) || (mediaType.endsWith("+json") && accepted.includes("application/json"));
    if (!ok) {
      throw new ApiError(
        "unsupported_media_type",
        `This endpoint accepts ${accepted.join(", ")}; the request was sent as ${mediaType || "no content type"}.`,
      );
    }
  }
  await next();
});

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
export const sizeGuard = createMiddleware<AppEnv>(async (c, next) => {
  if (!methodsWithBody.has(c.req.method)) return next();
  return limiterOf(ruleFor(c.req.path)?.maxBytes ?? defaultBodyLimitBytes)(c, next);
});
