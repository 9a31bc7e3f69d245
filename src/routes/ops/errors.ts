import type { ErrorCode } from "../../http/problem.ts";

/** The problem codes every lifecycle operation (ops API and sandbox) can answer with. */
export const opsErrorCodes: ErrorCode[] = [
  "invalid_json",
  "validation_failed",
  "unauthorized",
  "forbidden",
  "not_found",
  "invalid_transition",
  "idempotency_in_progress",
  "payload_too_large",
  "unsupported_media_type",
  "idempotency_key_reused",
  "quota_exceeded",
  "internal_error",
];
