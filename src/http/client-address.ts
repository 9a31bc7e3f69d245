import ipaddr from "ipaddr.js";

export interface ClientAddressSettings {
  /** Lower-case header name set by a trusted proxy, or undefined to use the socket's peer address only. */
  trustedHeader: string | undefined;
  /** For a list header (X-Forwarded-For), which entry from the right is the client: the number of our proxies. */
  trustedHops: number;
}

/** The TCP peer of the request on Node (`@hono/node-server` passes the IncomingMessage as `env.incoming`). */
export function socketAddress(env: unknown): string | undefined {
  const incoming = (env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
  return incoming?.socket?.remoteAddress;
}

/**
 * The bucket name of a client address: IPv4 as is (IPv4-mapped IPv6 too), IPv6 by its /64, since one subscriber
 * usually holds a whole /64 and could otherwise rotate addresses to dodge the limit.
 */
export function addressBucket(address: string): string | null {
  if (!ipaddr.isValid(address)) return null;
  const parsed = ipaddr.process(address);
  if (parsed.kind() === "ipv4") return parsed.toString();
  const parts = (parsed as ipaddr.IPv6).parts.slice(0, 4);
  return `${parts.map((part) => part.toString(16)).join(":")}::/64`;
}

/**
 * The client's address for per-address limits. Only the configured proxy header is believed, and in a list only
 * the entry our own proxy appended (counting `trustedHops` from the right): entries further left are whatever the
 * client sent. Without a setting, or with an unusable header, the socket's peer is the client.
 */
export function clientAddress(
  header: (name: string) => string | undefined,
  env: unknown,
  settings: ClientAddressSettings,
): string {
  if (settings.trustedHeader) {
    const value = header(settings.trustedHeader);
    if (value) {
      const entries = value
        .split(",")
        .map((entry) => entry.trim())
        .filter(Boolean);
      const candidate = entries[Math.max(0, entries.length - settings.trustedHops)];
      const bucket = candidate ? addressBucket(stripPort(candidate)) : null;
      if (bucket) return bucket;
    }
  }
  const peer = socketAddress(env);
  return (peer && addressBucket(peer)) ?? "unknown";
}

/** `203.0.113.7:4711` and `[2001:db8::1]:4711` (some proxies add ports) to the bare address. */
function stripPort(entry: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(entry);
  if (bracketed) return bracketed[1]!;
  const v4WithPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(entry);
  return v4WithPort ? v4WithPort[1]! : entry;
}
