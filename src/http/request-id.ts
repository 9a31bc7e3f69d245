import { createMiddleware } from "hono/factory";
import type { AppEnv } from "./context.ts";

const acceptable = /^[A-Za-z0-9._:-]{1,128}$/;

export function newRequestId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let hex = "req_";
  for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

/** Every response carries X-Request-Id: the caller's own when it sent a sane one, else a new one. */
export const requestId = createMiddleware<AppEnv>(async (c, next) => {
  const incoming = c.req.header("x-request-id");
  const id = incoming && acceptable.test(incoming) ? incoming : newRequestId();
  c.set("requestId", id);
  await next();
  c.res.headers.set("x-request-id", id);
});
