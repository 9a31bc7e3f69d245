import { Buffer } from "node:buffer";
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from "node:dns";
import http from "node:http";
import https from "node:https";
import { isIP } from "node:net";
import type { AddressCheck, SendResult, WebhookSender } from "./types.ts";

export interface HttpSenderOptions {
  /** The SSRF guard, run on every address the sender is about to connect to. */
  checkAddress: AddressCheck;
  /** Sockets kept per receiver host (keep-alive); the dispatcher's per-endpoint bound is usually lower. */
  maxSocketsPerHost?: number;
}

class BlockedAddressError extends Error {
  readonly code = "EBLOCKEDADDRESS";
}

const responseBodyKeep = 1_024;
// A receiver that streams more than this after its status line is not answering a webhook: cut it off.
const responseBodyMax = 64 * 1_024;

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

function describe(
  error: NodeJS.ErrnoException,
  timeoutMs: number,
  timedOut: boolean,
): SendResult & { kind: "error" } {
  const base = { durationMs: 0 };
  if (timedOut)
    return { ...base, kind: "error", reason: "timeout", error: `timed out after ${timeoutMs} ms` };
  if (error instanceof BlockedAddressError || error.code === "EBLOCKEDADDRESS") {
    return {
      ...base,
      kind: "error",
      reason: "blocked",
      error: `refused by the SSRF guard: ${error.message}`,
    };
  }
  const code = error.code ?? "";
  if (code === "ECONNREFUSED")
    return { ...base, kind: "error", reason: "connection", error: "connection refused" };
  if (code === "ECONNRESET")
    return { ...base, kind: "error", reason: "connection", error: "connection reset" };
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") {
    return { ...base, kind: "error", reason: "connection", error: `host not found (${code})` };
  }
  if (code === "EHOSTUNREACH" || code === "ENETUNREACH" || code === "ETIMEDOUT") {
    return { ...base, kind: "error", reason: "connection", error: `host unreachable (${code})` };
  }
  if (code.startsWith("ERR_TLS") || code.includes("CERT") || /certificate|SSL|TLS/i.test(error.message)) {
    return { ...base, kind: "error", reason: "tls", error: `TLS error: ${error.message}` };
  }
  return { ...base, kind: "error", reason: "other", error: error.message || code || "request failed" };
}

/**
 * The real sender: Node's http/https with keep-alive agents. The agents resolve names through a lookup that runs
 * the SSRF guard on every address before the socket connects, so a name that re-resolves to a private address
 * after the subscription was vetted is still refused (the connection goes to the vetted address, never to a
 * second, unchecked resolution). IP literals skip DNS and are checked before the request starts. Redirects are not
 * followed (a 3xx is a failed attempt).
 */
export function createHttpWebhookSender(options: HttpSenderOptions): WebhookSender {
  const { checkAddress } = options;

  function guardedLookup(hostname: string, lookupOptions: LookupOptions, callback: LookupCallback): void {
    dnsLookup(hostname, { ...lookupOptions, all: true }, (error, addresses) => {
      if (error) return callback(error, []);
      const list = addresses as LookupAddress[];
      for (const entry of list) {
        const reason = checkAddress(entry.address);
        if (reason) return callback(new BlockedAddressError(reason), []);
      }
      if (list.length === 0) {
        return callback(Object.assign(new Error(`no address for ${hostname}`), { code: "ENOTFOUND" }), []);
      }
      if (lookupOptions.all) return callback(null, list);
      const first = list[0]!;
      callback(null, first.address, first.family);
    });
  }

  const maxSockets = options.maxSocketsPerHost ?? 64;
  const agentOptions = {
    keepAlive: true,
    maxSockets,
    // As many idle sockets as busy ones: a busy endpoint reuses its connections instead of reconnecting.
    maxFreeSockets: maxSockets,
    lookup: guardedLookup as unknown as http.AgentOptions["lookup"],
  };
  const httpAgent = new http.Agent(agentOptions);
  const httpsAgent = new https.Agent(agentOptions);

  return {
    send(request) {
      const started = performance.now();
      const elapsed = () => Math.round(performance.now() - started);
      return new Promise<SendResult>((resolve) => {
        let url: URL;
        try {
          url = new URL(request.url);
        } catch {
          resolve({ kind: "error", reason: "other", error: "invalid URL", durationMs: 0 });
          return;
        }
        const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
        if (isIP(host)) {
          const reason = checkAddress(host);
          if (reason) {
            resolve({
              kind: "error",
              reason: "blocked",
              error: `refused by the SSRF guard: ${reason}`,
              durationMs: 0,
            });
            return;
          }
        }
        const isHttps = url.protocol === "https:";
        const transport = isHttps ? https : http;
        const agent = isHttps ? httpsAgent : httpAgent;
        const body = Buffer.from(request.body, "utf8");
        const deadline = started + request.timeoutMs;
        let settled = false;
        const finish = (result: SendResult) => {
          if (settled) return;
          settled = true;
          resolve(result);
        };

        const exchange = (mayRetryStaleSocket: boolean) => {
          let timedOut = false;
          let answered = false;
          const req = transport.request(url, {
            method: "POST",
            agent,
            headers: { ...request.headers, "content-length": String(body.length) },
          });
          const timer = setTimeout(
            () => {
              timedOut = true;
              req.destroy(new Error("timeout"));
            },
            Math.max(1, deadline - performance.now()),
          );
          req.on("error", (error: NodeJS.ErrnoException) => {
            clearTimeout(timer);
            // A kept-alive socket the receiver closed just as we reused it: the request never reached its
            // handler. Node's documented remedy is to send it again on a fresh connection, once.
            if (
              mayRetryStaleSocket &&
              !timedOut &&
              !answered &&
              req.reusedSocket &&
              error.code === "ECONNRESET"
            ) {
              exchange(false);
              return;
            }
            finish({ ...describe(error, request.timeoutMs, timedOut), durationMs: elapsed() });
          });
          req.on("response", (res) => {
            answered = true;
            const chunks: Buffer[] = [];
            let kept = 0;
            let total = 0;
            res.on("data", (chunk: Buffer) => {
              total += chunk.length;
              if (kept < responseBodyKeep) {
                chunks.push(chunk);
                kept += chunk.length;
              }
              if (total > responseBodyMax) res.destroy();
            });
            const done = () => {
              clearTimeout(timer);
              const retryAfter = res.headers["retry-after"];
              finish({
                kind: "response",
                status: res.statusCode ?? 0,
                retryAfter: typeof retryAfter === "string" ? retryAfter : null,
                body: Buffer.concat(chunks).subarray(0, responseBodyKeep).toString("utf8"),
                durationMs: elapsed(),
              });
            };
            res.on("end", done);
            // The status line is the answer; a body cut short (too long, reset, timed out) does not change it.
            res.on("close", done);
            res.on("error", () => {});
          });
          req.end(body);
        };
        exchange(true);
      });
    },
    resolveHost(hostname) {
      return new Promise((resolve, reject) => {
        dnsLookup(hostname, { all: true }, (error, addresses) => {
          if (error) reject(error);
          else resolve(addresses.map((entry) => entry.address));
        });
      });
    },
    async close() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}
