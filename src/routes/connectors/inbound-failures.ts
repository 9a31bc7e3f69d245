import type { RateLimitPolicy } from "../../adapters/ratelimit/types.ts";
import type { Config } from "../../config.ts";
import type { Platform } from "../../domain/connectors/platforms.ts";
import { type FailureKind, type FailureThrottle, failureThrottle } from "../../http/failure-throttle.ts";
import type { Services } from "../../services.ts";

export function inboundFailurePolicy(config: Config): RateLimitPolicy {
  return { name: "inbound-failures", limit: config.INBOUND_FAILURE_LIMIT_PER_MINUTE, windowSeconds: 60 };
}

/**
 * Inbound URLs that name no connector of their platform. Each costs a lookup before its 404, and the URL carries no
 * key, so this is the only thing that bounds probing for connector ids: per client address
 * (`inboundfail:<address>`, INBOUND_FAILURE_LIMIT_PER_MINUTE).
 *
 * What is deliberately not counted: the platforms send from shared addresses (Shopify's and VTEX's outbound IPs
 * serve every shop), so a plain per-address request limit would let one busy shop stall the others; and signature
 * failures, counted per connector or per address, would let anyone who learned a connector's URL block its real
 * deliveries. A failed signature costs the lookup of a row that exists, which is what serving that connector costs.
 */
const unknownConnectors: FailureKind = {
  subject: "inboundfail",
  policy: inboundFailurePolicy,
  tooOften:
    "This address has named too many connectors that do not exist (inbound URLs that answered 404); only connectors known to exist are served to it for now.",
};

/** Connector ids remembered at most (about 100 bytes each); the least recently seen go first. */
const maxKnownConnectors = 10_000;

/**
 * The connector ids (with their platform) that this process has recently seen exist: existence only, so the row is
 * still read on every request and disabling a connector or changing its credentials takes effect at once. A
 * blocked address still reaches these, so a shop whose deleted connector Shopify keeps calling cannot cut off the
 * other shops behind the same Shopify address; an id whose lookup finds nothing is forgotten.
 */
export class KnownConnectors {
  private readonly ids = new Set<string>();

  has(platform: Platform, id: string): boolean {
    return this.ids.has(`${platform}/${id}`);
  }

  remember(platform: Platform, id: string): void {
    const entry = `${platform}/${id}`;
    // Re-inserted, so the Set's insertion order is the order of last use and the first entry the least recent.
    this.ids.delete(entry);
    this.ids.add(entry);
    if (this.ids.size > maxKnownConnectors) {
      const oldest = this.ids.values().next().value;
      if (oldest !== undefined) this.ids.delete(oldest);
    }
  }

  forget(platform: Platform, id: string): void {
    this.ids.delete(`${platform}/${id}`);
  }
}

export interface InboundFailures {
  throttle: FailureThrottle;
  known: KnownConnectors;
}

// One per services bag, like the throttle itself.
const knownConnectors = new WeakMap<Services, KnownConnectors>();

export function inboundFailures(services: Services): InboundFailures {
  let known = knownConnectors.get(services);
  if (!known) {
    known = new KnownConnectors();
    knownConnectors.set(services, known);
  }
  return { throttle: failureThrottle(services, unknownConnectors), known };
}
