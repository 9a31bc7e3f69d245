import "../domain/validation-messages.ts";
import { z } from "@hono/zod-openapi";

/**
 * The closed list of error codes. Every error the API returns is an RFC 9457 problem+json body whose `code` is one
 * of these; `status` and `title` live here only. Adding a code means documenting it in the portal's errors guide.
 */
export const errorCatalog = {
  invalid_json: { status: 400, title: "Malformed JSON" },
  validation_failed: { status: 400, title: "The request is invalid" },
  unauthorized: { status: 401, title: "Missing or invalid credentials" },
  invalid_signature: { status: 401, title: "The payload signature does not match" },
  forbidden: { status: 403, title: "Not allowed" },
  not_found: { status: 404, title: "Not found" },
  method_not_allowed: { status: 405, title: "Method not allowed" },
  conflict: { status: 409, title: "Conflict" },
  duplicate_external_id: { status: 409, title: "An order with this external_id already exists" },
  invalid_transition: { status: 409, title: "The order cannot move to that state" },
  idempotency_in_progress: { status: 409, title: "A request with this Idempotency-Key is still running" },
  payload_too_large: { status: 413, title: "The request body is too large" },
  unsupported_media_type: { status: 415, title: "Unsupported content type" },
  idempotency_key_reused: { status: 422, title: "The Idempotency-Key was used with a different request" },
  quota_exceeded: { status: 429, title: "Rate limit exceeded" },
  internal_error: { status: 500, title: "Internal server error" },
  service_unavailable: { status: 503, title: "Service temporarily unavailable" },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof errorCatalog;
export const errorCodes = Object.keys(errorCatalog) as [ErrorCode, ...ErrorCode[]];

export interface FieldError {
  /** JSON-pointer-like path into the input, e.g. `/packages/0/weight_kg` (or `row 3/city` for files). */
  path: string;
  message: string;
}

/**
 * An expected failure, thrown by middleware and route handlers and rendered by the app's error handler.
 *
 * It carries no stack trace: it is rendered, never logged, and capturing one cost about 5 % of the CPU of a
 * request answered 401, 404 or 429 (the answers a client hammering the API gets).
 */
export class ApiError extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  readonly detail: string | undefined;
  readonly extra: Record<string, unknown> & { errors?: FieldError[] };
  readonly headers: Record<string, string>;
  constructor(
    code: ErrorCode,
    detail?: string,
    extra: Record<string, unknown> & { errors?: FieldError[] } = {},
    headers: Record<string, string> = {},
  ) {
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(detail ?? errorCatalog[code].title);
    Error.stackTraceLimit = stackTraceLimit;
    this.name = "ApiError";
    this.code = code;
    this.detail = detail;
    this.extra = extra;
    this.headers = headers;
    this.status = errorCatalog[code].status;
  }
}

/** The problem type URI: a page of the developer portal that explains the code and what to do about it. */
export function problemType(baseUrl: string, code: ErrorCode): string {
  return `${baseUrl}/developers/errors#${code.replaceAll("_", "-")}`;
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  code: ErrorCode;
  request_id: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

export function problemBody(
  error: ApiError,
  context: { baseUrl: string; requestId: string; instance?: string },
): ProblemBody {
  const entry = errorCatalog[error.code];
  return {
    type: problemType(context.baseUrl, error.code),
    title: entry.title,
    status: entry.status,
    ...(error.detail ? { detail: error.detail } : {}),
    ...(context.instance ? { instance: context.instance } : {}),
    code: error.code,
    request_id: context.requestId,
    ...error.extra,
  };
}

export function problemResponse(
  error: ApiError,
  context: { baseUrl: string; requestId: string; instance?: string },
): Response {
  const headers = new Headers(error.headers);
  headers.set("content-type", "application/problem+json");
  headers.set("x-request-id", context.requestId);
  return new Response(JSON.stringify(problemBody(error, context)), { status: error.status, headers });
}

/**
 * Converts Zod issues to the `errors` list: one entry per issue, with a path into the input. An unknown field gets
 * its own entry whose path is the field itself (`/recipient/colour`), not the object holding it: the path is what a
 * caller looks at first, and "/" with `Unrecognized key: "colour"` in the message sent them reading prose.
 */
export function fieldErrors(
  issues: readonly {
    path: readonly PropertyKey[];
    message: string;
    code?: string;
    keys?: readonly string[];
  }[],
): FieldError[] {
  return issues.flatMap((issue) => {
    const path = issue.path.map((segment) => String(segment));
    if (issue.code === "unrecognized_keys" && issue.keys && issue.keys.length > 0) {
      return issue.keys.map((key) => ({
        path: `/${[...path, key].join("/")}`,
        message: "unknown field: check its name in the API reference (objects are strict)",
      }));
    }
    return [{ path: `/${path.join("/")}`, message: issue.message }];
  });
}

/** The OpenAPI schema of every error body. */
export const ProblemSchema = z
  .object({
    type: z.string().openapi({ example: "https://api.cellvi.com/developers/errors#validation-failed" }),
    title: z.string().openapi({ example: "The request is invalid" }),
    status: z.number().int().openapi({ example: 400 }),
    detail: z.string().optional().openapi({ example: "2 fields are invalid" }),
    instance: z.string().optional().openapi({ example: "/v1/orders/create" }),
    code: z.enum(errorCodes).openapi({ example: "validation_failed" }),
    request_id: z.string().openapi({ example: "req_8f14e45fceea167a5a36dedd4bea2543" }),
    errors: z
      .array(z.object({ path: z.string(), message: z.string() }))
      .optional()
      .openapi({
        example: [
          { path: "/recipient/phone", message: "required: expected a string, but the field is missing" },
        ],
      }),
  })
  .passthrough()
  .openapi("Problem");

/** Spread into a route's `responses` to document the problem+json errors it can return. */
export function errorResponses(...codes: ErrorCode[]) {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const status = errorCatalog[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: Record<
    number,
    { description: string; content: Record<string, { schema: typeof ProblemSchema }> }
  > = {};
  for (const [status, list] of byStatus) {
    responses[status] = {
      description: list.map((code) => `\`${code}\`: ${errorCatalog[code].title}`).join("; "),
      content: { "application/problem+json": { schema: ProblemSchema } },
    };
  }
  return responses;
}
