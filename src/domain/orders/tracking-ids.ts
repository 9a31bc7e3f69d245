import { timingSafeEqual } from "node:crypto";
import { randomBase62 } from "../keys/format.ts";
import { sha256Bytes } from "../sha256.ts";

// Crockford base32 without I, L, O, U: readable over the phone and on a label, no look-alike characters.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** `CV` + 12 Crockford characters (60 random bits): printed on labels, guessed by nobody. */
export function newTrackingNumber(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  let out = "CV";
  for (const byte of bytes) out += crockford[byte & 31];
  return out;
}

/** The capability that unlocks the public tracking view (about 143 random bits). */
export function newTrackingToken(): string {
  return `trk_${randomBase62(24)}`;
}

/** Constant-time comparison of a presented token with the stored one (hashing first equalises lengths). */
export function tokensMatch(presented: string, stored: string): boolean {
  const a = sha256Bytes(presented);
  const b = sha256Bytes(stored);
  return timingSafeEqual(a, b);
}

export function trackingUrl(baseUrl: string, trackingNumber: string, token: string): string {
  return `${baseUrl}/v1/tracking/${encodeURIComponent(trackingNumber)}?token=${encodeURIComponent(token)}`;
}
