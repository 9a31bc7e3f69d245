import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { TalliedHistogram } from "./tallied-histogram.ts";

/**
 * The service's Prometheus metrics. Every call to `createMetrics` builds its own `Registry` (never prom-client's
 * global one), so a test can build any number of apps side by side and each one scrapes only what it counted.
 *
 * Label values are kept to small closed sets (route *patterns*, status codes, plan names, outcome names): a raw
 * path, a tenant id or an error message as a label would make the series count grow without bound.
 */

/** How an HTTP attempt to a webhook receiver ended. */
export const webhookAttemptOutcomes = [
  /** The receiver answered 2xx. */
  "succeeded",
  /** The receiver answered something else (including 410, which also disables the subscription). */
  "http_error",
  /** No answer within the attempt timeout. */
  "timeout",
  /** DNS, connection or TLS failure, or a URL the SSRF guard refused at connection time. */
  "network_error",
  /**
   * Nothing was sent: the subscription's signing secret could not be opened (a key missing from the configuration).
   * The attempt does not count and the delivery waits for the key; a rate above zero needs an operator.
   */
  "not_sent",
] as const;
export type WebhookAttemptOutcome = (typeof webhookAttemptOutcomes)[number];

/** The webhook queue as the database sees it at scrape time. */
export interface WebhookQueueSnapshot {
  /** Deliveries still pending (due now, leased, or waiting for a retry). */
  pending: number;
  /** Pending deliveries whose next attempt is due now (not leased, not backing off). */
  due: number;
  /** Seconds since the oldest pending delivery was created; 0 when none is pending. */
  oldestPendingAgeSeconds: number;
  /** Seconds the oldest due delivery has been waiting past its due time: how far behind the dispatchers are. */
  oldestDueLagSeconds: number;
}

export interface MetricsOptions {
  /** Also collect the process metrics (RSS, heap, event-loop lag, GC, file descriptors). Servers and workers: yes. */
  processMetrics?: boolean;
  /** Prepended to every metric name. */
  prefix?: string;
}

export interface HttpObservation {
  method: string;
  /** The matched route pattern (`/v1/orders/{id}` as Hono writes it: `/v1/orders/:id`), never the raw path. */
  route: string;
  status: number;
  /** The caller's tenant plan, or "none" for unauthenticated requests. */
  plan: string;
  seconds: number;
}

export interface Metrics {
  readonly registry: Registry;
  /** Content type of `render()`: the Prometheus text exposition format. */
  readonly contentType: string;
  /** Counts one finished HTTP request (called by the request-observing middleware, once per request). */
  observeRequest(observation: HttpObservation): void;
  /**
   * Counts a rate-limit rejection (429). The request middleware already counts every 429 it sees, by route and
   * plan; the limiter owner may call `observeRateLimitDecision` for the decision latency of each backend.
   */
  observeRateLimitDecision(decision: {
    backend: "redis" | "memory";
    allowed: boolean;
    seconds: number;
  }): void;
  /** Counts a rate-limiter fallback (Redis unreachable, decisions made in memory or refused). */
  observeRateLimiterFallback(reason: string): void;
  /**
   * Counts one webhook delivery attempt. `seconds` is the HTTP round trip. `eventAgeSeconds`, given on success, is
   * the time from the event's commit to the receiver's answer: the end-to-end delivery latency.
   */
  observeWebhookAttempt(attempt: {
    outcome: WebhookAttemptOutcome;
    seconds: number;
    eventAgeSeconds?: number;
  }): void;
  /** Counts deliveries that reached a final state: delivered, or failed after the last scheduled attempt. */
  observeWebhookDeliveryFinished(result: "delivered" | "failed"): void;
  /**
   * Sets how the queue gauges are read: called at scrape time (never per request), so the gauges cost one small
   * query per scrape. Pass undefined to stop reading.
   */
  setWebhookQueueProbe(probe: (() => Promise<WebhookQueueSnapshot>) | undefined): void;
  /** The Prometheus text exposition of every metric in this registry. */
  render(): Promise<string>;
}

const requestLabels = ["route", "method", "status", "plan"] as const;
type RequestLabel = (typeof requestLabels)[number];

/** Requests of one label set counted since the last scrape. */
interface RequestTally {
  labels: Record<RequestLabel, string>;
  pending: number;
}

/** The request metrics of one route and method: its duration observer, and its counts by status and plan. */
interface RouteMethodSeries {
  observeDuration: (seconds: number) => void;
  tallies: Map<number, Map<string, RequestTally>>;
}

const latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
// An event's delivery can wait through a retry schedule of a day: the upper buckets follow it.
const deliveryLatencyBuckets = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 120, 600, 3600, 21_600, 86_400,
];
const decisionBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5];

// A scrape must answer even while the database is down: the queue gauges are skipped after this long.
const probeTimeoutMs = 2_000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  const prefix = options.prefix ?? "cellvi_";
  if (options.processMetrics) collectDefaultMetrics({ register: registry, prefix });

  // The request path's two metrics cost per request only an addition each (see TalliedHistogram): the counter's
  // increments are tallied here and handed to prom-client once per label set at each scrape (its `collect`).
  const requestTallies: RequestTally[] = [];
  new Counter({
    name: `${prefix}http_requests_total`,
    help: "HTTP requests answered, by route pattern, method, status code and the caller's tenant plan.",
    labelNames: requestLabels,
    registers: [registry],
    collect() {
      for (const tally of requestTallies) {
        if (tally.pending === 0) continue;
        this.inc(tally.labels, tally.pending);
        tally.pending = 0;
      }
    },
  });
  const duration = new TalliedHistogram(
    `${prefix}http_request_duration_seconds`,
    "Time from the request reaching the app to its response being ready, by route pattern and method.",
    ["route", "method"] as const,
    latencyBuckets,
    registry,
  );
  const rateLimited = new Counter({
    name: `${prefix}rate_limit_rejections_total`,
    help: "Requests refused with 429 by the rate limiter, by route pattern and tenant plan.",
    labelNames: ["route", "plan"] as const,
    registers: [registry],
  });
  const limiterDecisions = new TalliedHistogram(
    `${prefix}rate_limit_decision_seconds`,
    "Time the rate limiter took to decide, by backend and decision.",
    ["backend", "decision"] as const,
    decisionBuckets,
    registry,
  );
  const limiterFallbacks = new Counter({
    name: `${prefix}rate_limiter_fallbacks_total`,
    help: "Decisions the Redis limiter could not make (the in-memory fallback decided, or the request was refused).",
    labelNames: ["reason"] as const,
    registers: [registry],
  });
  const attempts = new Counter({
    name: `${prefix}webhook_delivery_attempts_total`,
    help: "Webhook delivery attempts, by outcome.",
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  const attemptDuration = new Histogram({
    name: `${prefix}webhook_attempt_duration_seconds`,
    help: "HTTP round trip of each webhook delivery attempt, by outcome.",
    labelNames: ["outcome"] as const,
    buckets: latencyBuckets,
    registers: [registry],
  });
  const deliveryLatency = new Histogram({
    name: `${prefix}webhook_delivery_latency_seconds`,
    help: "Time from an event's commit to the receiver's 2xx answer (includes any retries).",
    buckets: deliveryLatencyBuckets,
    registers: [registry],
  });
  const finished = new Counter({
    name: `${prefix}webhook_deliveries_total`,
    help: "Webhook deliveries that reached a final state: delivered, or failed after the last attempt.",
    labelNames: ["result"] as const,
    registers: [registry],
  });
  for (const outcome of webhookAttemptOutcomes) attempts.labels(outcome).inc(0);
  for (const result of ["delivered", "failed"] as const) finished.labels(result).inc(0);

  let queueProbe: (() => Promise<WebhookQueueSnapshot>) | undefined;
  // `render` reads the probe once per scrape; the four gauges' collect() only copy from this snapshot.
  let scraped: WebhookQueueSnapshot | undefined;
  const queueGauge = (name: string, help: string, pick: (s: WebhookQueueSnapshot) => number) =>
    new Gauge({
      name: `${prefix}${name}`,
      help,
      registers: [registry],
      collect() {
        // The database did not answer (or no probe is set): NaN says "unknown", where 0 would claim an empty
        // queue; `webhook_queue_probe_success` tells the two apart for alerting.
        this.set(scraped ? pick(scraped) : Number.NaN);
      },
    });
  new Gauge({
    name: `${prefix}webhook_queue_probe_success`,
    help: "1 when the last scrape could read the webhook queue from the database, else 0.",
    registers: [registry],
    collect() {
      this.set(scraped ? 1 : 0);
    },
  });
  queueGauge(
    "webhook_queue_depth",
    "Webhook deliveries pending (due, leased or backing off).",
    (s) => s.pending,
  );
  queueGauge("webhook_queue_due", "Webhook deliveries due now and not yet claimed.", (s) => s.due);
  queueGauge(
    "webhook_queue_oldest_pending_age_seconds",
    "Age of the oldest pending webhook delivery.",
    (s) => s.oldestPendingAgeSeconds,
  );
  queueGauge(
    "webhook_queue_oldest_due_lag_seconds",
    "How long the oldest due webhook delivery has waited past its due time (dispatcher lag).",
    (s) => s.oldestDueLagSeconds,
  );

  // Per label set, found through maps keyed by the label values themselves: a key built per request (a template
  // string of the four values) would be a new string to hash every time, which cost about as much as the rest.
  // (prom-client's children from `labels()` check and hash the label set on every call: about 1.4 µs per histogram
  // observation and 0.9 µs per increment.)
  const byRoute = new Map<string, Map<string, RouteMethodSeries>>();
  const seriesOf = (route: string, method: string): RouteMethodSeries => {
    let byMethod = byRoute.get(route);
    if (!byMethod) {
      byMethod = new Map();
      byRoute.set(route, byMethod);
    }
    let series = byMethod.get(method);
    if (!series) {
      series = { observeDuration: duration.series({ route, method }), tallies: new Map() };
      byMethod.set(method, series);
    }
    return series;
  };
  const decisionObservers = {
    redis: new Map<boolean, (seconds: number) => void>(),
    memory: new Map<boolean, (seconds: number) => void>(),
  };

  return {
    registry,
    contentType: registry.contentType,
    observeRequest({ method, route, status, plan, seconds }) {
      const series = seriesOf(route, method);
      series.observeDuration(seconds);
      let byPlan = series.tallies.get(status);
      if (!byPlan) {
        byPlan = new Map();
        series.tallies.set(status, byPlan);
      }
      let tally = byPlan.get(plan);
      if (!tally) {
        tally = { labels: { route, method, status: String(status), plan }, pending: 0 };
        byPlan.set(plan, tally);
        requestTallies.push(tally);
      }
      tally.pending++;
      if (status === 429) rateLimited.labels(route, plan).inc();
    },
    observeRateLimitDecision({ backend, allowed, seconds }) {
      let observe = decisionObservers[backend].get(allowed);
      if (!observe) {
        observe = limiterDecisions.series({ backend, decision: allowed ? "allowed" : "denied" });
        decisionObservers[backend].set(allowed, observe);
      }
      observe(seconds);
    },
    observeRateLimiterFallback(reason) {
      limiterFallbacks.labels(reason).inc();
    },
    observeWebhookAttempt({ outcome, seconds, eventAgeSeconds }) {
      attempts.labels(outcome).inc();
      attemptDuration.labels(outcome).observe(seconds);
      if (outcome === "succeeded" && eventAgeSeconds !== undefined && eventAgeSeconds >= 0) {
        deliveryLatency.observe(eventAgeSeconds);
      }
    },
    observeWebhookDeliveryFinished(result) {
      finished.labels(result).inc();
    },
    setWebhookQueueProbe(probe) {
      queueProbe = probe;
    },
    async render() {
      scraped = queueProbe
        ? await withTimeout(queueProbe(), probeTimeoutMs).catch(() => undefined)
        : undefined;
      return registry.metrics();
    },
  };
}
