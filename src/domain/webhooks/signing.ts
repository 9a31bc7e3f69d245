import { createHmac } from "node:crypto";
import { secretKeyBytes } from "./secrets.ts";

/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): the signed content is `id.timestamp.body`, the
 * signature `v1,` + base64(HMAC-SHA256(key, content)), and several signatures are separated by spaces so a
 * receiver accepts the message while it knows either the new or the old secret during a rotation.
 */
export function signWebhook(
  secrets: readonly string[],
  id: string,
  timestampSeconds: number,
  body: string,
): string {
  const content = `${id}.${timestampSeconds}.${body}`;
  return secrets
    .map((secret) => `v1,${createHmac("sha256", secretKeyBytes(secret)).update(content).digest("base64")}`)
    .join(" ");
}

export const webhookUserAgent = "CELLVI-Connect-Webhooks/1.0 (+https://cellvi.com/developers/webhooks)";

/** Every header of one attempt. `webhook-timestamp` is the attempt's time, so receivers can reject replays. */
export function webhookHeaders(
  secrets: readonly string[],
  id: string,
  timestampSeconds: number,
  body: string,
): Record<string, string> {
  return {
    "content-type": "application/json",
    "user-agent": webhookUserAgent,
    "webhook-id": id,
    "webhook-timestamp": String(timestampSeconds),
    "webhook-signature": signWebhook(secrets, id, timestampSeconds, body),
  };
}

/** The secrets that sign now: the current one, and the previous one until its overlap ends. */
export function activeSecrets(
  subscription: { secret: string; previous_secret: string | null; previous_secret_expires_at: Date | null },
  now: Date,
): string[] {
  const secrets = [subscription.secret];
  if (
    subscription.previous_secret &&
    subscription.previous_secret_expires_at &&
    subscription.previous_secret_expires_at.getTime() > now.getTime()
  ) {
    secrets.push(subscription.previous_secret);
  }
  return secrets;
}
