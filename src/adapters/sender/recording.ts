import type { SendResult, WebhookRequest, WebhookSender } from "./types.ts";

export interface RecordingSenderOptions {
  /** Decides each answer; default: 200 with an empty body. */
  respond?: (request: WebhookRequest, index: number) => SendResult | Promise<SendResult>;
  /** Name -> addresses, standing in for DNS; unknown names do not resolve. */
  hosts?: Record<string, string[]>;
}

export interface RecordingWebhookSender extends WebhookSender {
  /** Every request, in the order it was sent. */
  readonly requests: WebhookRequest[];
}

/** The in-memory twin of the HTTP sender: records requests and answers as told, with no network at all. */
export function createRecordingWebhookSender(options: RecordingSenderOptions = {}): RecordingWebhookSender {
  const requests: WebhookRequest[] = [];
  const respond =
    options.respond ??
    (() => ({ kind: "response" as const, status: 200, retryAfter: null, body: "", durationMs: 0 }));
  return {
    requests,
    async send(request) {
      requests.push(request);
      return respond(request, requests.length - 1);
    },
    async resolveHost(hostname) {
      const addresses = options.hosts?.[hostname];
      if (!addresses)
        throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
      return addresses;
    },
    async close() {},
  };
}
