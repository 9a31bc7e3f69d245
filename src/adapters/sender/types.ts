/**
 * The network edge of webhook delivery. The dispatcher signs and decides; a sender only moves bytes and reports what
 * happened. Two implementations share this contract: the real HTTP sender (`http.ts`) and a recording in-memory
 * twin (`recording.ts`) for unit tests. A Deno entry can bring its own (fetch-based) sender.
 */
export interface WebhookRequest {
  url: string;
  headers: Record<string, string>;
  /** Sent byte for byte: it is what the signature covers. */
  body: string;
  /** The whole attempt (connect, TLS, request, response) must finish within this time. */
  timeoutMs: number;
}

/** What the receiver did, as the sender saw it. Never throws for a receiver's failure: that is a value. */
export type SendResult =
  | {
      kind: "response";
      status: number;
      /** The `Retry-After` header, if any. */
      retryAfter: string | null;
      /** The first KiB of the body, for the delivery log. */
      body: string;
      durationMs: number;
    }
  | {
      kind: "error";
      /** A sentence for the delivery log: "connection refused", "timed out after 10000 ms", ... */
      error: string;
      /** `blocked`: the SSRF guard refused the address at connection time. */
      reason: "timeout" | "connection" | "blocked" | "tls" | "other";
      durationMs: number;
    };

export interface WebhookSender {
  send(request: WebhookRequest): Promise<SendResult>;
  /** The addresses a host name resolves to (the same resolver the sender connects with). */
  resolveHost(hostname: string): Promise<string[]>;
  /** Releases pooled connections. */
  close(): Promise<void>;
}

/** Returns why an address must not be contacted, or null when it may be (the SSRF guard, injected). */
export type AddressCheck = (address: string) => string | null;
