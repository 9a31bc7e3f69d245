import type { Context } from "hono";
import type { Queryable } from "../../adapters/db/types.ts";
import { requestFingerprint, runIdempotent } from "../../domain/idempotency/run.ts";
import type {
  LifecycleContext,
  LifecycleFailure,
  LifecycleResult,
} from "../../domain/orders/lifecycle/operations.ts";
import type { AppEnv } from "../../http/context.ts";
import { ApiError } from "../../http/problem.ts";

/** The problem+json for each expected failure of a lifecycle operation. */
export function lifecycleError(failure: LifecycleFailure): ApiError {
  switch (failure.kind) {
    case "not_found":
      return new ApiError("not_found", "No order with this id (for this key's tenant and mode).");
    case "invalid_transition": {
      const current = failure.from === "CLOSED" ? "EXCEPTION (closed)" : failure.from;
      const next =
        failure.allowed.length > 0 ? `From ${current} it can move to ${failure.allowed.join(", ")}.` : "";
      return new ApiError(
        "invalid_transition",
        `The order is ${current}; it cannot move to ${failure.to}. ${next || `${current} is final.`}`.trim(),
        {
          current_status: failure.status,
          closed: failure.closed,
          requested: failure.to,
          allowed_transitions: failure.allowed,
        },
      );
    }
    case "not_on_the_way": {
      const current = failure.from === "CLOSED" ? "EXCEPTION (closed)" : failure.from;
      return new ApiError(
        "conflict",
        `Driver positions are accepted only while a driver is on the way (DRIVER_ASSIGNED or NEARBY); the order is ${current}.`,
        { current_status: failure.status, closed: failure.closed },
      );
    }
    case "no_destination_coordinates":
      return new ApiError(
        "conflict",
        "The order's destination has no latitude/longitude, so it can never be NEARBY. Create the order with destination coordinates to see NEARBY.",
      );
    case "not_cancellable": {
      const reason =
        failure.from === "NEARBY"
          ? "The driver is already near the destination (NEARBY), so the order can no longer be cancelled through the API: contact CELLVI dispatch to stop the delivery."
          : failure.from === "DELIVERED"
            ? "The order was delivered: it can no longer be cancelled."
            : `The order is already closed (exception ${failure.code ?? "OTHER"}): there is nothing left to cancel.`;
      return new ApiError(
        "conflict",
        `${reason} An order can be cancelled while CREATED, DRIVER_ASSIGNED or in an open EXCEPTION.`,
        {
          current_status: failure.status,
          closed: failure.closed,
        },
      );
    }
    case "invalid_input":
      return new ApiError(
        "validation_failed",
        `${failure.errors.length} ${failure.errors.length === 1 ? "field is" : "fields are"} invalid.`,
        { errors: failure.errors },
      );
  }
}

/**
 * Runs a lifecycle operation in one transaction for the authenticated caller, under its `Idempotency-Key` when
 * one is sent (a retried request replays the first response instead of getting a 409 for a transition it already
 * made). An expected failure becomes an ApiError thrown inside the transaction, so nothing it wrote survives.
 */
export async function runLifecycle<T>(
  c: Context<AppEnv>,
  request: { path: string; body: unknown; idempotencyKey: string | undefined; actorPrefix: string },
  operation: (tx: Queryable, ctx: LifecycleContext) => Promise<LifecycleResult<T>>,
): Promise<{ body: T; replayed: boolean }> {
  const { db, config, clock } = c.var.services;
  const auth = c.var.auth;
  const scope = { tenantId: auth.tenantId, mode: auth.mode };
  const ctx: LifecycleContext = {
    actor: `${request.actorPrefix}:${auth.keyId}`,
    now: clock.now(),
    averageSpeedKmh: config.ETA_AVERAGE_SPEED_KMH,
    defaultNearbyRadiusM: config.NEARBY_RADIUS_M,
  };
  const run = async (tx: Queryable) => {
    const result = await operation(tx, ctx);
    if (result.kind !== "ok") throw lifecycleError(result);
    return { status: 200, body: result.value as unknown };
  };
  if (request.idempotencyKey) {
    const outcome = await runIdempotent(
      db,
      scope,
      request.idempotencyKey,
      requestFingerprint("POST", request.path, request.body),
      run,
    );
    return { body: outcome.body as T, replayed: outcome.replayed };
  }
  const outcome = await db.transaction(run);
  return { body: outcome.body as T, replayed: false };
}
