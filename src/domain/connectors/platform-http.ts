import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { isIP, type LookupFunction } from "node:net";
import ipaddr from "ipaddr.js";

/**
 * GET requests to a platform's API (VTEX OMS, Magento REST) at a base URL the tenant configured. Since a tenant
 * chooses the URL, the request must not become a way into our own network: addresses that are not public unicast
 * (loopback, private, link-local and cloud metadata, CGNAT, ...) are refused unless CONNECTOR_ALLOW_PRIVATE_URLS is
 * set, and the check runs on the address actually connected to (inside the socket's DNS lookup), so a name that
 * re-resolves to a private address between a check and the connection gains nothing.
 */

export interface PlatformHttpOptions {
  timeoutMs: number;
  allowPrivateAddresses: boolean;
  /** Larger responses are cut off with an error (an order is a few kilobytes; a page of 50 a few hundred). */
  maxBytes?: number;
}

export class PlatformHttpError extends Error {
  constructor(
    message: string,
    /** The HTTP status when the platform answered, undefined for network errors and timeouts. */
    readonly status?: number,
  ) {
    super(message);
    this.name = "PlatformHttpError";
  }
}

export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === "ipv6" && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
    parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  }
  return parsed.range() === "unicast";
}

function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, "", 0);
      const list = addresses as LookupAddress[];
      const refused = allowPrivate ? undefined : list.find((entry) => !isPublicAddress(entry.address));
      if (refused) {
        return callback(
          Object.assign(
            new Error(`${hostname} resolves to ${refused.address}, which is not a public address`),
            {
              code: "EADDRNOTPUBLIC",
            },
          ),
          "",
          0,
        );
      }
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
      const first = list[0];
      if (!first)
        return callback(Object.assign(new Error(`${hostname} has no address`), { code: "ENOTFOUND" }), "", 0);
      return callback(null, first.address, first.family);
    });
  };
}

/** Checks a configured base URL up front: scheme, and (for an IP literal) the address. DNS names are checked per connection. */
export function checkBaseUrl(url: string, allowPrivate: boolean): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "is not a URL";
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") return "must be an http(s) URL";
  if (parsed.username || parsed.password) return "must not contain credentials; put them in credentials";
  const host = parsed.hostname.replace(/^\[|\]$/g, "");
  if (!allowPrivate && isIP(host) && !isPublicAddress(host))
    return `points at ${host}, which is not a public address`;
  if (!allowPrivate && (host === "localhost" || host.endsWith(".localhost"))) return "points at localhost";
  return null;
}

/** GET a URL and parse its JSON body. Non-2xx, timeouts, refused addresses and bad JSON throw `PlatformHttpError`. */
export async function getJson(
  url: string,
  headers: Record<string, string>,
  options: PlatformHttpOptions,
): Promise<unknown> {
  const problem = checkBaseUrl(url, options.allowPrivateAddresses);
  if (problem) throw new PlatformHttpError(`${url} ${problem}`);
  const target = new URL(url);
  const maxBytes = options.maxBytes ?? 5 * 1024 * 1024;
  const send = target.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (error: PlatformHttpError | null, value?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) reject(error);
      else resolve(value);
    };
    const request = send(
      target,
      {
        method: "GET",
        headers: { accept: "application/json", "user-agent": "cellvi-connect/1 (+connectors)", ...headers },
        lookup: guardedLookup(options.allowPrivateAddresses),
      },
      (response: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            response.destroy();
            finish(
              new PlatformHttpError(
                `the response from ${target.host} exceeds ${maxBytes} bytes`,
                response.statusCode,
              ),
            );
            return;
          }
          chunks.push(chunk);
        });
        response.on("error", (error) =>
          finish(new PlatformHttpError(`reading ${target.host}: ${error.message}`)),
        );
        response.on("end", () => {
          const status = response.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString("utf8");
          if (status < 200 || status > 299) {
            finish(new PlatformHttpError(`${target.host} answered ${status}: ${text.slice(0, 200)}`, status));
            return;
          }
          try {
            finish(null, JSON.parse(text));
          } catch {
            finish(
              new PlatformHttpError(`${target.host} answered ${status} with a body that is not JSON`, status),
            );
          }
        });
      },
    );
    const timer = setTimeout(() => {
      request.destroy();
      finish(new PlatformHttpError(`${target.host} did not answer within ${options.timeoutMs} ms`));
    }, options.timeoutMs);
    request.on("error", (error) =>
      finish(new PlatformHttpError(`connecting to ${target.host}: ${error.message}`)),
    );
    request.end();
  });
}
