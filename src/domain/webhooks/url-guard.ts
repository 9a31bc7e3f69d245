import ipaddr from "ipaddr.js";

/**
 * The SSRF guard. A webhook URL is attacker-controlled input that makes our servers open connections, so it may only
 * reach the public internet: addresses that resolve to loopback, private networks, link-local (where cloud metadata
 * services live), carrier-grade NAT, or any other special-purpose range are refused. It runs when a subscription is
 * made (early, friendly feedback) and again on every connection the sender opens, because DNS can change between
 * the two (DNS rebinding).
 */
export interface AddressPolicy {
  /** `WEBHOOK_ALLOW_PRIVATE_URLS=true`: loopback and private ranges are allowed (local development, tests). */
  allowPrivate: boolean;
}

// Never allowed, whatever the settings: cloud metadata endpoints that live inside ranges `allowPrivate` opens.
const alwaysBlocked = new Set(["fd00:ec2::254"]);

/** Why an address is refused, or null when it may be contacted. */
export function blockedAddressReason(address: string, policy: AddressPolicy): string | null {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.parse(address);
  } catch {
    return `"${address}" is not an IP address`;
  }
  // ::ffff:10.0.0.1 reaches 10.0.0.1: judge the IPv4 address inside.
  if (parsed.kind() === "ipv6" && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
    parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  }
  if (alwaysBlocked.has(parsed.toNormalizedString()) || alwaysBlocked.has(parsed.toString())) {
    return `${address} is a cloud metadata address`;
  }
  const range = parsed.range();
  if (range === "unicast") return null;
  if (policy.allowPrivate && (range === "loopback" || range === "private" || range === "uniqueLocal")) {
    return null;
  }
  return `${address} is a ${range} address, which webhooks may not reach`;
}

export interface UrlRules extends AddressPolicy {
  /** Plain http is allowed (test-mode subscriptions, or `WEBHOOK_ALLOW_HTTP=true`). */
  allowHttp: boolean;
  /** Resolves a host name to its addresses (the sender's resolver, so tests can stand in for DNS). */
  resolveHost(hostname: string): Promise<string[]>;
  /** How long to wait for DNS before giving up on the early check (the per-connection check still runs). */
  resolveTimeoutMs?: number;
}

/**
 * `localAddress`: the URL was refused only because it reaches loopback or a private network, which
 * WEBHOOK_ALLOW_PRIVATE_URLS would open (someone testing with a receiver on their own machine).
 */
export type UrlCheck = { ok: true; url: URL } | { ok: false; reason: string; localAddress?: boolean };

function hostOf(url: URL): string {
  // URL keeps the brackets of an IPv6 literal: [::1].
  return url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
}

class ResolveTimeout extends Error {}

/**
 * Checks a subscription URL: http(s) only, https unless allowed, no credentials, and every address it resolves to
 * must be allowed. A name that does not resolve yet is accepted (the endpoint may be deployed later); the check on
 * each connection still applies.
 */
export async function checkWebhookUrl(text: string, rules: UrlRules): Promise<UrlCheck> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, reason: "must be an absolute http(s) URL" };
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    // "localhost:4567/hook" parses with the scheme "localhost:": the scheme was left out, not a wrong one given.
    if (!text.includes("://")) return { ok: false, reason: "must be an absolute URL starting with https://" };
    return { ok: false, reason: `must use https (not ${url.protocol.replace(":", "")})` };
  }
  if (url.protocol === "http:" && !rules.allowHttp) {
    return {
      ok: false,
      reason: "must use https: plain http is accepted only for test-mode subscriptions",
    };
  }
  if (url.username || url.password) {
    return { ok: false, reason: "must not contain credentials (user:password@)" };
  }
  const host = hostOf(url);
  if (!host) return { ok: false, reason: "must name a host" };
  let addresses: string[];
  if (ipaddr.isValid(host)) {
    addresses = [host];
  } else {
    try {
      let timer: ReturnType<typeof setTimeout> | undefined;
      addresses = await Promise.race([
        rules.resolveHost(host),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new ResolveTimeout()), rules.resolveTimeoutMs ?? 3_000);
        }),
      ]).finally(() => clearTimeout(timer));
    } catch {
      // Unresolvable for now: nothing to judge yet; the sender checks the addresses it connects to.
      return { ok: true, url };
    }
  }
  for (const address of addresses) {
    const reason = blockedAddressReason(address, rules);
    if (reason) {
      const localAddress = blockedAddressReason(address, { allowPrivate: true }) === null;
      return { ok: false, reason: `resolves to a forbidden address: ${reason}`, localAddress };
    }
  }
  return { ok: true, url };
}
