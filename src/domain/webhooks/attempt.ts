import type { SendResult, WebhookSender } from "../../adapters/sender/types.ts";
import type { Clock } from "../../services.ts";
import type { AttemptRecord, ClaimedDelivery } from "./queue.ts";
import { type AttemptDecision, decideAttempt, type RetryPolicy, secretWaitBounds } from "./retry-policy.ts";
import type { WebhookSecretOpener } from "./sealed-secrets.ts";
import { activeSecrets, webhookHeaders } from "./signing.ts";

export interface AttemptDeps {
  sender: WebhookSender;
  clock: Clock;
  timeoutMs: number;
  policy: RetryPolicy;
  /** Opens the claimed (sealed) secrets; see sealed-secrets.ts. */
  secrets: WebhookSecretOpener;
  /**
   * A delivery whose secret cannot be opened waits for the key: the attempt is given back and tried again later
   * (`secretWaitBounds`). The dispatcher sets this; a test send, which is never retried automatically, does not,
   * and such an attempt ends it as failed.
   */
  waitForSecrets?: boolean;
  random?: () => number;
}

/**
 * How the delivery log's error of an attempt that sent nothing (its signing secret could not be opened) begins. The
 * log has no column for it: the API reads this prefix back (`wasSent`), so both sides use this one constant.
 */
export const notSentPrefix = "Not sent: ";

/** Whether a logged attempt reached the endpoint's address, i.e. was not stopped on our side before sending. */
export function wasSent(attempt: { status_code: number | null; error: string | null }): boolean {
  return attempt.status_code !== null || !attempt.error?.startsWith(notSentPrefix);
}

export interface AttemptReport {
  record: AttemptRecord;
  result: SendResult;
  /** From the delivery's creation (the event's commit) to the end of this attempt. */
  latencyMs: number;
}

/**
 * One attempt of one claimed delivery: sign the stored body with the secrets active now, send it, decide what
 * happens next. Never throws: whatever goes wrong with the receiver is an outcome to record. A secret that does not
 * open (its key is not configured, or the value was moved from another row) is such an outcome too: nothing is sent
 * unsigned, the reason goes into the delivery log, and (with `waitForSecrets`) the attempt is given back: it does
 * not count toward the schedule, and the delivery is tried again after a wait (`secretWaitBounds`), so a key missing
 * from the configuration delays deliveries but never uses them up.
 */
export async function attemptDelivery(delivery: ClaimedDelivery, deps: AttemptDeps): Promise<AttemptReport> {
  const attemptedAt = deps.clock.now();
  const result = await signAndSend(delivery, attemptedAt, deps);
  const finishedAt = deps.clock.now();
  const waits = "notSent" in result && deps.waitForSecrets === true;
  const decision = waits
    ? waitForSecret(result.error, attemptedAt, deps.policy)
    : decideAttempt(
        { attempts: delivery.attempts, maxAttempts: delivery.max_attempts },
        result,
        finishedAt,
        deps.policy,
        deps.random,
      );
  return {
    result,
    latencyMs: Math.max(0, finishedAt.getTime() - delivery.created_at.getTime()),
    record: {
      deliveryId: delivery.id,
      leaseToken: delivery.lease_token,
      subscriptionId: delivery.subscription_id,
      attempt: delivery.attempts,
      attemptedAt,
      durationMs: result.durationMs,
      outcome: decision.outcome,
      statusCode: result.kind === "response" ? result.status : null,
      // Error texts are ours or Node's, but a TLS or parser message may quote what the endpoint sent.
      error: decision.error === null ? null : storableText(decision.error),
      responseBody: result.kind === "response" && result.body !== "" ? storableText(result.body) : null,
      deliveryStatus: decision.deliveryStatus,
      nextAttemptAt: decision.nextAttemptAt,
      disableSubscription: decision.disableSubscription,
      subscriptionWasFailing: delivery.failing_since !== null,
      ...("notSent" in result ? { notSent: true } : {}),
      ...(waits ? { waitsForSecret: true } : {}),
    },
  };
}

/**
 * The decision for an attempt not sent because its secret cannot be opened, when the delivery waits for the key:
 * still pending whatever its attempt count, due again after at least the shortest wait. The outcome write gives the
 * attempt back and makes the wait as long as the subscription has been waiting (up to the cap), which needs the
 * subscription's row; this earliest time only wakes the dispatcher.
 */
function waitForSecret(error: string, attemptedAt: Date, policy: RetryPolicy): AttemptDecision {
  return {
    outcome: "failed",
    deliveryStatus: "pending",
    nextAttemptAt: new Date(attemptedAt.getTime() + secretWaitBounds(policy).minMs),
    disableSubscription: null,
    error: `${error} Waiting for the key: this attempt does not count, and the delivery is tried again later.`,
  };
}

async function signAndSend(
  delivery: ClaimedDelivery,
  attemptedAt: Date,
  deps: AttemptDeps,
): Promise<SendResult | (Extract<SendResult, { kind: "error" }> & { notSent: true })> {
  let headers: Record<string, string>;
  try {
    const secrets = openedSecrets(delivery, attemptedAt, deps.secrets);
    headers = webhookHeaders(
      secrets,
      delivery.event_id,
      Math.floor(attemptedAt.getTime() / 1000),
      delivery.body,
    );
  } catch (error) {
    return {
      kind: "error",
      reason: "other",
      error: `${notSentPrefix}the subscription's signing secret cannot be opened (${(error as Error).message}).`,
      durationMs: 0,
      notSent: true,
    };
  }
  try {
    return await deps.sender.send({
      url: delivery.url,
      headers,
      body: delivery.body,
      timeoutMs: deps.timeoutMs,
    });
  } catch (error) {
    return {
      kind: "error",
      reason: "other",
      error: (error as Error).message || "send failed",
      durationMs: 0,
    };
  }
}

/** The plain secrets that sign now: the current one, and the previous one during its overlap (opened only then). */
function openedSecrets(delivery: ClaimedDelivery, now: Date, opener: WebhookSecretOpener): string[] {
  const [current, previous] = activeSecrets(delivery, now);
  const secrets = [opener.open(delivery.subscription_id, "secret", current!)];
  if (previous !== undefined)
    secrets.push(opener.open(delivery.subscription_id, "previous_secret", previous));
  return secrets;
}

/**
 * A receiver's answer as PostgreSQL text can hold it: text cannot contain U+0000, and one NUL in one answer would
 * fail the outcome write, which records a whole batch of attempts (other endpoints' too) in one statement, again
 * at every retry of that write. The NUL becomes U+FFFD, as an undecodable byte already does.
 */
function storableText(text: string): string {
  return text.includes("\u0000") ? text.replaceAll("\u0000", "\uFFFD") : text;
}
