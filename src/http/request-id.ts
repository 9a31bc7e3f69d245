import type { Context } from "hono";
import type { AppEnv } from "./context.ts";
import { requestHeader } from "./headers.ts";

const acceptable = /^[A-Za-z0-9._:-]{1,128}$/;

/** `req_` + 32 hex digits. randomUUID draws from a pre-filled entropy pool: cheaper per request than 16 fresh bytes. */
export function newRequestId(): string {
  return `req_${crypto.randomUUID().replaceAll("-", "")}`;
}

/**
 * The request's id: the caller's own X-Request-Id when it sent a sane one, else a new one. Set as the `requestId`
 * variable; the app's envelope middleware echoes it on every response.
 */
export function assignRequestId(c: Context<AppEnv>): string {
  const incoming = requestHeader(c, "x-request-id");
  const id = incoming && acceptable.test(incoming) ? incoming : newRequestId();
  c.set("requestId", id);
  return id;
}
