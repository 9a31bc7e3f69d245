import { Buffer } from "node:buffer";
import { randomBytes } from "node:crypto";

/** Standard Webhooks secrets: `whsec_` + base64 of the key bytes (24 to 64 bytes; we make 32). */
export const secretPrefix = "whsec_";

export function generateWebhookSecret(byteLength = 32): string {
  if (byteLength < 24 || byteLength > 64) throw new RangeError("secrets are 24 to 64 bytes");
  return `${secretPrefix}${randomBytes(byteLength).toString("base64")}`;
}

/** The HMAC key of a secret: the base64 after the prefix, decoded (what every Standard Webhooks library does). */
export function secretKeyBytes(secret: string): Buffer {
  const encoded = secret.startsWith(secretPrefix) ? secret.slice(secretPrefix.length) : secret;
  return Buffer.from(encoded, "base64");
}
