import type { Config } from "../../config.ts";
import type { RetryPolicy } from "./retry-policy.ts";

/** Everything webhook delivery reads from the configuration, derived once. */
export interface WebhookSettings {
  timeoutMs: number;
  /** Always longer than an attempt can take, so a live worker never loses its claim mid-attempt. */
  leaseMs: number;
  pollIntervalMs: number;
  /** Look once more this long after claims that found deliveries; 0: never (see WEBHOOK_RECHECK_INTERVAL). */
  recheckIntervalMs: number;
  /** While caught up, at most one claim per this interval (see WEBHOOK_CLAIM_INTERVAL); 0: no pacing. */
  claimIntervalMs: number;
  concurrency: number;
  endpointConcurrency: number;
  batchSize: number;
  secretOverlapMs: number;
  allowPrivateUrls: boolean;
  allowHttp: boolean;
  policy: RetryPolicy;
}

export function webhookSettings(config: Config): WebhookSettings {
  const timeoutMs = config.WEBHOOK_TIMEOUT;
  const leaseMs = Math.max(config.WEBHOOK_LEASE ?? timeoutMs + 30_000, timeoutMs + 1_000);
  return {
    timeoutMs,
    leaseMs,
    pollIntervalMs: config.WEBHOOK_POLL_INTERVAL,
    recheckIntervalMs: config.WEBHOOK_RECHECK_INTERVAL,
    claimIntervalMs: config.WEBHOOK_CLAIM_INTERVAL,
    concurrency: config.WEBHOOK_CONCURRENCY,
    endpointConcurrency: Math.min(config.WEBHOOK_ENDPOINT_CONCURRENCY, config.WEBHOOK_CONCURRENCY),
    batchSize: config.WEBHOOK_BATCH_SIZE,
    secretOverlapMs: config.WEBHOOK_SECRET_OVERLAP,
    allowPrivateUrls: config.WEBHOOK_ALLOW_PRIVATE_URLS,
    allowHttp: config.WEBHOOK_ALLOW_HTTP,
    policy: {
      scheduleMs: config.WEBHOOK_RETRY_SCHEDULE,
      jitter: config.WEBHOOK_RETRY_JITTER,
      disableAfterMs: config.WEBHOOK_DISABLE_AFTER,
      maxRetryAfterMs: 86_400_000,
    },
  };
}
