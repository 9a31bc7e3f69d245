import { createHash, createHmac, createPublicKey, timingSafeEqual, verify } from "node:crypto";

/**
 * How platforms prove that a request is theirs. Every comparison of a secret-derived value runs in constant time
 * (`timingSafeEqual` over fixed-length digests), so response timing tells an attacker nothing about how much of a
 * forged signature was right.
 */

const base64Pattern = /^[A-Za-z0-9+/]+={0,2}$/;

/** `base64(HMAC-SHA256(secret, body))`, the scheme of Shopify's X-Shopify-Hmac-Sha256 and WooCommerce's X-WC-Webhook-Signature. */
export function hmacSha256Base64(secret: string, body: Uint8Array): string {
  return createHmac("sha256", secret).update(body).digest("base64");
}

/**
 * True when `presented` is the base64 HMAC-SHA256 of the exact body bytes. The presented value is decoded and
 * compared as 32 raw bytes: a value of another length is false before any comparison, which leaks only its length.
 */
export function verifyHmacSha256Base64(
  secret: string,
  body: Uint8Array,
  presented: string | undefined,
): boolean {
  if (!presented) return false;
  const candidate = presented.trim();
  if (!base64Pattern.test(candidate)) return false;
  const given = Buffer.from(candidate, "base64");
  const expected = createHmac("sha256", secret).update(body).digest();
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * Compares a presented shared token (VTEX's custom hook header) with the configured one. Both sides are hashed
 * first so the comparison is over equal lengths whatever was sent.
 */
export function tokensEqual(expected: string, presented: string | undefined): boolean {
  if (presented === undefined) return false;
  const a = createHash("sha256").update(expected, "utf8").digest();
  const b = createHash("sha256").update(presented, "utf8").digest();
  return timingSafeEqual(a, b);
}

/** A PEM public key is parseable: checked when the connector is configured, not on the first webhook. */
export function isPublicKeyPem(pem: string): boolean {
  try {
    createPublicKey(pem);
    return true;
  } catch {
    return false;
  }
}

/**
 * Adobe Commerce webhook signatures (`x-adobe-commerce-webhook-signature`): an RSA-SHA256 signature, made with the
 * store's private key, over the base64 encoding of the request body. Verified with the public key the merchant
 * copies from Stores > Configuration > Adobe Services > Webhooks.
 */
export function verifyAdobeCommerceSignature(
  publicKeyPem: string,
  body: Uint8Array,
  presented: string | undefined,
): boolean {
  if (!presented || !base64Pattern.test(presented.trim())) return false;
  try {
    const signedText = Buffer.from(body).toString("base64");
    return verify(
      "sha256",
      Buffer.from(signedText, "utf8"),
      publicKeyPem,
      Buffer.from(presented.trim(), "base64"),
    );
  } catch {
    return false;
  }
}
