import type { WebhookEvent } from "./schema.ts";

/**
 * Verifies a webhook delivery per Standard Webhooks (https://www.standardwebhooks.com), the format CELLVI signs
 * with: `webhook-signature` holds space-separated `v1,<base64 HMAC-SHA256>` signatures of
 * `<webhook-id>.<webhook-timestamp>.<raw body>`, keyed with the base64 bytes after `whsec_` of the subscription's
 * secret. Uses Web Crypto only, so it runs on Node.js 18+, Deno, Bun, edge runtimes and browsers.
 *
 * Pass the body exactly as received (the raw bytes or string, before any JSON parsing): re-serialized JSON will
 * not match. During a secret rotation, pass both secrets.
 *
 * @example
 * const event = await verifyWebhook(rawBody, request.headers, process.env.CELLVI_WEBHOOK_SECRET!);
 * if (event.type === "DELIVERED") markDelivered(event.data.external_id, event.data.proof);
 */
export class WebhookVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WebhookVerificationError";
  }
}

export interface VerifyWebhookOptions {
  /** How far `webhook-timestamp` may be from now, in seconds (replay protection). Default 300. */
  toleranceSeconds?: number;
  /** The current time (for tests). */
  now?: () => Date;
}

type HeaderSource = Headers | Record<string, string | string[] | undefined>;

function header(headers: HeaderSource, name: string): string | undefined {
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined;
  const record = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(record).find((candidate) => candidate.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  return Array.isArray(value) ? value.join(" ") : value;
}

function base64ToBytes(base64: string): Uint8Array | null {
  try {
    const binary = atob(base64);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  } catch {
    return null;
  }
}

/** Compares in time independent of where the bytes differ, so timing reveals nothing about the signature. */
function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i]! ^ b[i]!;
  return difference === 0;
}

async function hmac(secret: Uint8Array, message: Uint8Array): Promise<Uint8Array> {
  const key = await globalThis.crypto.subtle.importKey(
    "raw",
    secret as BufferSource,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return new Uint8Array(await globalThis.crypto.subtle.sign("HMAC", key, message as BufferSource));
}

export async function verifyWebhook(
  payload: string | Uint8Array,
  headers: HeaderSource,
  secrets: string | string[],
  options: VerifyWebhookOptions = {},
): Promise<WebhookEvent> {
  const id = header(headers, "webhook-id");
  const timestamp = header(headers, "webhook-timestamp");
  const signatures = header(headers, "webhook-signature");
  if (!id || !timestamp || !signatures) {
    throw new WebhookVerificationError("Missing webhook-id, webhook-timestamp or webhook-signature header");
  }
  if (!/^\d+$/.test(timestamp)) throw new WebhookVerificationError("Invalid webhook-timestamp");
  const now = Math.floor((options.now?.() ?? new Date()).getTime() / 1000);
  const tolerance = options.toleranceSeconds ?? 300;
  if (Math.abs(now - Number(timestamp)) > tolerance) {
    throw new WebhookVerificationError(
      "webhook-timestamp is outside the tolerance: a replay or a wrong clock",
    );
  }

  const body = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
  const prefix = new TextEncoder().encode(`${id}.${timestamp}.`);
  const signed = new Uint8Array(prefix.length + body.length);
  signed.set(prefix, 0);
  signed.set(body, prefix.length);

  const candidates = signatures
    .split(" ")
    .map((entry) => entry.split(","))
    .filter(([version, value]) => version === "v1" && value)
    .map(([, value]) => base64ToBytes(value!))
    .filter((bytes): bytes is Uint8Array => bytes !== null);

  for (const secret of Array.isArray(secrets) ? secrets : [secrets]) {
    const key = base64ToBytes(secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret);
    if (!key) throw new WebhookVerificationError("The secret is not a whsec_ base64 secret");
    const expected = await hmac(key, signed);
    if (candidates.some((candidate) => equalBytes(candidate, expected))) {
      return JSON.parse(new TextDecoder().decode(body)) as WebhookEvent;
    }
  }
  throw new WebhookVerificationError("No signature matches: wrong secret, or the body was modified");
}
