import { Buffer } from "node:buffer";
import fc from "fast-check";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { generateWebhookSecret, secretKeyBytes } from "../../src/domain/webhooks/secrets.ts";
import { activeSecrets, signWebhook, webhookHeaders } from "../../src/domain/webhooks/signing.ts";

const now = () => Math.floor(Date.now() / 1000);

describe("webhook secrets", () => {
  it("are whsec_ + base64 of 32 random bytes, and differ every time", () => {
    const secret = generateWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(secretKeyBytes(secret)).toHaveLength(32);
    expect(generateWebhookSecret()).not.toBe(secret);
  });

  it("accept 24 to 64 bytes and refuse other sizes", () => {
    expect(secretKeyBytes(generateWebhookSecret(24))).toHaveLength(24);
    expect(secretKeyBytes(generateWebhookSecret(64))).toHaveLength(64);
    expect(() => generateWebhookSecret(23)).toThrow(RangeError);
    expect(() => generateWebhookSecret(65)).toThrow(RangeError);
  });
});

describe("Standard Webhooks signatures, checked by the standardwebhooks library", () => {
  it("verify for any body and id", () => {
    const secret = generateWebhookSecret();
    fc.assert(
      fc.property(fc.string(), fc.stringMatching(/^evt_[a-f0-9]{8,32}$/), (text, id) => {
        const body = JSON.stringify({ type: "DELIVERED", data: { text } });
        const headers = webhookHeaders([secret], id, now(), body);
        expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
      }),
      { numRuns: 50 },
    );
  });

  it("are exactly what the library itself computes", () => {
    const secret = generateWebhookSecret();
    const body = '{"type":"NEARBY","timestamp":"2026-11-28T10:00:00.000Z","data":{}}';
    const timestamp = new Date(1_795_000_000_000);
    const expected = new Webhook(secret).sign("evt_1", timestamp, body);
    expect(signWebhook([secret], "evt_1", 1_795_000_000, body)).toBe(expected);
  });

  it("carry one signature per active secret, each accepted on its own", () => {
    const oldSecret = generateWebhookSecret();
    const newSecret = generateWebhookSecret();
    const body = '{"type":"DELIVERED"}';
    const headers = webhookHeaders([newSecret, oldSecret], "evt_2", now(), body);
    expect(headers["webhook-signature"]!.split(" ")).toHaveLength(2);
    expect(new Webhook(newSecret).verify(body, headers)).toEqual({ type: "DELIVERED" });
    expect(new Webhook(oldSecret).verify(body, headers)).toEqual({ type: "DELIVERED" });
    expect(() => new Webhook(generateWebhookSecret()).verify(body, headers)).toThrow();
  });

  it("fail when a single byte of the body changes", () => {
    const secret = generateWebhookSecret();
    const body = '{"type":"DELIVERED","data":{"cod_amount":"185000.00"}}';
    const headers = webhookHeaders([secret], "evt_3", now(), body);
    expect(() => new Webhook(secret).verify(body.replace("185000", "185001"), headers)).toThrow();
  });

  it("name the service in the user agent and send JSON", () => {
    const headers = webhookHeaders([generateWebhookSecret()], "evt_4", now(), "{}");
    expect(headers["content-type"]).toBe("application/json");
    expect(headers["user-agent"]).toMatch(/^CELLVI-Connect-Webhooks\//);
    expect(headers["webhook-id"]).toBe("evt_4");
  });
});

describe("activeSecrets", () => {
  const at = new Date("2026-11-28T12:00:00Z");
  const subscription = {
    secret: "whsec_new",
    previous_secret: "whsec_old",
    previous_secret_expires_at: new Date("2026-11-29T12:00:00Z"),
  };

  it("signs with both secrets during the overlap, and with the new one only after it", () => {
    expect(activeSecrets(subscription, at)).toEqual(["whsec_new", "whsec_old"]);
    expect(activeSecrets(subscription, new Date("2026-11-29T12:00:00Z"))).toEqual(["whsec_new"]);
    expect(
      activeSecrets({ secret: "whsec_only", previous_secret: null, previous_secret_expires_at: null }, at),
    ).toEqual(["whsec_only"]);
  });

  it("decodes the key bytes the way the library does (the prefix is not part of the key)", () => {
    const raw = Buffer.alloc(24, 7);
    expect(secretKeyBytes(`whsec_${raw.toString("base64")}`).equals(raw)).toBe(true);
  });
});
