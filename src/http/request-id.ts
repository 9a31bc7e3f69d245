import { createMiddleware } from "hono/factory";
import type { AppEnv } from "./context.ts";

const acceptable = /^[A-Za-z0-9._:-]{1,128}$/;

/** `req_` + 32 hex digits. randomUUID draws from a pre-filled entropy pool: cheaper per request than 16 fresh bytes. */
export function newRequestId(): string {
  return `req_${crypto.randomUUID().replaceAll("-", "")}`;
}

/** Every response carries X-Request-Id: the caller's own when it sent a sane one, else a new one. */
export const requestId = createMiddleware<AppEnv>(async (c, next) => {
  const incoming = c.req.header("x-request-id");
  const id = incoming && acceptable.test(incoming) ? incoming : newRequestId();
  c.set("requestId", id);
  await next();
  c.res.headers.set("x-request-id", id);
});
