import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { SendResult } from "../../src/adapters/sender/types.ts";
import { loadConfig } from "../../src/config.ts";
import { formatDuration, parseDuration, parseDurationList } from "../../src/domain/webhooks/durations.ts";
import {
  decideAttempt,
  defaultRetryScheduleMs,
  parseRetryAfter,
  type RetryPolicy,
  retryDelayMs,
} from "../../src/domain/webhooks/retry-policy.ts";
import { webhookSettings } from "../../src/domain/webhooks/settings.ts";

const policy: RetryPolicy = {
  scheduleMs: defaultRetryScheduleMs,
  jitter: 0,
  disableAfterMs: 5 * 86_400_000,
  maxRetryAfterMs: 86_400_000,
};
const now = new Date("2026-11-28T12:00:00Z");
const response = (status: number, retryAfter: string | null = null): SendResult => ({
  kind: "response",
  status,
  retryAfter,
  body: "",
  durationMs: 12,
});

describe("durations", () => {
  it("parse with units and refuse bare numbers", () => {
    expect(parseDuration("250ms")).toBe(250);
    expect(parseDuration("5s")).toBe(5_000);
    expect(parseDuration("2m")).toBe(120_000);
    expect(parseDuration("1.5h")).toBe(5_400_000);
    expect(parseDuration("5d")).toBe(432_000_000);
    expect(parseDuration("30")).toBeNull();
    expect(parseDuration("-5s")).toBeNull();
    expect(parseDurationList("5s, 30s,2m")).toEqual([5_000, 30_000, 120_000]);
    expect(parseDurationList("5s,,x")).toBeNull();
    expect(parseDurationList(" ")).toBeNull();
    expect(formatDuration(300_000)).toBe("5m");
    expect(formatDuration(1_500)).toBe("1500ms");
  });
});

describe("the retry schedule", () => {
  it("defaults to immediately, 5s, 30s, 2m, 10m, 30m, 1h, 3h, 6h, 12h, 24h", () => {
    const settings = webhookSettings(loadConfig({}));
    expect(settings.policy.scheduleMs.map(formatDuration)).toEqual([
      "5s",
      "30s",
      "2m",
      "10m",
      "30m",
      "1h",
      "3h",
      "6h",
      "12h",
      "1d",
    ]);
    expect(settings.timeoutMs).toBe(10_000);
    expect(settings.policy.disableAfterMs).toBe(5 * 86_400_000);
    expect(settings.leaseMs).toBeGreaterThan(settings.timeoutMs);
  });

  it("is configurable, and a bad value stops the service at boot", () => {
    expect(webhookSettings(loadConfig({ WEBHOOK_RETRY_SCHEDULE: "1s,10s" })).policy.scheduleMs).toEqual([
      1_000, 10_000,
    ]);
    expect(() => loadConfig({ WEBHOOK_RETRY_SCHEDULE: "1s,soon" })).toThrow(/WEBHOOK_RETRY_SCHEDULE/);
    expect(() => loadConfig({ WEBHOOK_RETRY_JITTER: "2" })).toThrow(/WEBHOOK_RETRY_JITTER/);
  });

  it("gives each retry its delay and nothing after the last", () => {
    defaultRetryScheduleMs.forEach((delay, index) => {
      expect(retryDelayMs(policy, index + 1)).toBe(delay);
    });
    expect(retryDelayMs(policy, defaultRetryScheduleMs.length + 1)).toBeNull();
  });

  it("keeps jittered delays within ±jitter of the schedule", () => {
    const jittered = { ...policy, jitter: 0.1 };
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, r) => {
          const base = defaultRetryScheduleMs[attempt - 1]!;
          const delay = retryDelayMs(jittered, attempt, () => r)!;
          expect(delay).toBeGreaterThanOrEqual(Math.floor(base * 0.9));
          expect(delay).toBeLessThanOrEqual(Math.ceil(base * 1.1));
        },
      ),
    );
    // The spread is real: the extremes of the random source give different delays.
    expect(retryDelayMs(jittered, 1, () => 0)).not.toBe(retryDelayMs(jittered, 1, () => 0.999));
  });
});

describe("Retry-After", () => {
  it("reads delta-seconds and HTTP dates", () => {
    expect(parseRetryAfter("120", now)).toBe(120_000);
    expect(parseRetryAfter("Sat, 28 Nov 2026 12:10:00 GMT", now)).toBe(600_000);
    expect(parseRetryAfter("Sat, 28 Nov 2026 11:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBeNull();
    expect(parseRetryAfter(null, now)).toBeNull();
  });
});

describe("deciding after an attempt", () => {
  const first = { attempts: 1, maxAttempts: null };

  it("counts only 2xx as success", () => {
    for (const status of [200, 201, 202, 204, 299]) {
      expect(decideAttempt(first, response(status), now, policy).deliveryStatus).toBe("succeeded");
    }
    for (const status of [100, 301, 302, 304, 400, 401, 404, 409, 422, 500, 502, 504]) {
      const decision = decideAttempt(first, response(status), now, policy);
      expect(decision.outcome).toBe("failed");
      expect(decision.deliveryStatus).toBe("pending");
      expect(decision.nextAttemptAt).toEqual(new Date(now.getTime() + 5_000));
      expect(decision.error).toContain(String(status));
    }
  });

  it("retries timeouts and connection errors", () => {
    for (const reason of ["timeout", "connection", "tls", "blocked", "other"] as const) {
      const decision = decideAttempt(
        { attempts: 3, maxAttempts: null },
        { kind: "error", reason, error: "boom", durationMs: 10_000 },
        now,
        policy,
      );
      expect(decision.deliveryStatus).toBe("pending");
      expect(decision.nextAttemptAt).toEqual(new Date(now.getTime() + 120_000));
      expect(decision.error).toBe("boom");
    }
  });

  it("honours Retry-After on 429 and 503 when it asks for longer than the schedule, up to a cap", () => {
    const later = decideAttempt(first, response(429, "60"), now, policy);
    expect(later.nextAttemptAt).toEqual(new Date(now.getTime() + 60_000));
    const sooner = decideAttempt(first, response(503, "1"), now, policy);
    expect(sooner.nextAttemptAt).toEqual(new Date(now.getTime() + 5_000));
    const capped = decideAttempt(first, response(503, String(10 * 86_400)), now, policy);
    expect(capped.nextAttemptAt).toEqual(new Date(now.getTime() + 86_400_000));
    // Other statuses ignore it.
    expect(decideAttempt(first, response(500, "60"), now, policy).nextAttemptAt).toEqual(
      new Date(now.getTime() + 5_000),
    );
  });

  it("ends the delivery and disables the subscription on 410 Gone", () => {
    const decision = decideAttempt(first, response(410), now, policy);
    expect(decision).toMatchObject({
      outcome: "failed",
      deliveryStatus: "failed",
      nextAttemptAt: null,
      disableSubscription: "endpoint_gone",
    });
  });

  it("fails the delivery for good after the last scheduled attempt", () => {
    const last = { attempts: defaultRetryScheduleMs.length + 1, maxAttempts: null };
    expect(decideAttempt(last, response(500), now, policy)).toMatchObject({
      deliveryStatus: "failed",
      nextAttemptAt: null,
    });
  });

  it("gives a manual retry exactly one attempt", () => {
    expect(decideAttempt({ attempts: 12, maxAttempts: 12 }, response(500), now, policy).deliveryStatus).toBe(
      "failed",
    );
    expect(decideAttempt({ attempts: 12, maxAttempts: 12 }, response(200), now, policy).deliveryStatus).toBe(
      "succeeded",
    );
  });
});
