import type { OrderStatus } from "../schemas.ts";

/**
 * An order's lifecycle state. The first five are order statuses. `CLOSED` is not a sixth status: it is an order
 * in `EXCEPTION` whose exception was closed for good (`orders.closed_at` set). Keeping the status `EXCEPTION` keeps
 * the event types at the five that webhook subscribers know; closing is announced as one more `EXCEPTION` event
 * with `"closed": true`. See supabase/migrations/0002_lifecycle.sql for the database's side of the same rules.
 */
export const lifecycleStates = [
  "CREATED",
  "DRIVER_ASSIGNED",
  "NEARBY",
  "DELIVERED",
  "EXCEPTION",
  "CLOSED",
] as const;
export type LifecycleState = (typeof lifecycleStates)[number];

/**
 * The transition table: the only source of "may this order move there?" for the API. The database holds the same
 * table (`cellvi_transition_allowed`) to reject invalid raw-SQL changes; a test checks that the two agree.
 *
 * - No self-transitions: a state change is what produces an event, so re-sending one is a 409, not a duplicate
 *   event. In particular NEARBY cannot fire twice in one attempt.
 * - DRIVER_ASSIGNED -> DELIVERED is allowed because NEARBY is optional (a destination without coordinates never
 *   fires it, and a driver may deliver before a position arrives).
 * - EXCEPTION -> DRIVER_ASSIGNED starts a new delivery attempt. Swapping drivers mid-attempt goes through an
 *   EXCEPTION too, so every attempt has exactly one driver.
 * - DELIVERED and CLOSED are final.
 */
export const transitionTable = {
  CREATED: ["DRIVER_ASSIGNED", "EXCEPTION", "CLOSED"],
  DRIVER_ASSIGNED: ["NEARBY", "DELIVERED", "EXCEPTION", "CLOSED"],
  NEARBY: ["DELIVERED", "EXCEPTION", "CLOSED"],
  EXCEPTION: ["DRIVER_ASSIGNED", "CLOSED"],
  DELIVERED: [],
  CLOSED: [],
} as const satisfies Record<LifecycleState, readonly LifecycleState[]>;

export function lifecycleStateOf(status: OrderStatus, closed: boolean): LifecycleState {
  return status === "EXCEPTION" && closed ? "CLOSED" : status;
}

export function allowedTransitions(from: LifecycleState): readonly LifecycleState[] {
  return transitionTable[from];
}

export function canTransition(from: LifecycleState, to: LifecycleState): boolean {
  return (transitionTable[from] as readonly LifecycleState[]).includes(to);
}

/** The order status a lifecycle state is stored as. */
export function statusOf(state: LifecycleState): OrderStatus {
  return state === "CLOSED" ? "EXCEPTION" : state;
}

/** Event types: one per status, CREATED announcing itself as ORDER_CREATED (as 0001's trigger names them). */
export const eventTypes = ["ORDER_CREATED", "DRIVER_ASSIGNED", "NEARBY", "DELIVERED", "EXCEPTION"] as const;
export type EventType = (typeof eventTypes)[number];

/** The documented reasons for an exception. */
export const exceptionCodes = [
  "FAILED_ATTEMPT",
  "ADDRESS_NOT_FOUND",
  "RECIPIENT_ABSENT",
  "DAMAGED",
  "REFUSED",
  "OTHER",
] as const;
export type ExceptionCode = (typeof exceptionCodes)[number];

/** The exception code of an order its shipper cancelled (`POST /v1/orders/{id}/cancel`); not one CELLVI reports. */
export const cancelledCode = "CANCELLED";

/** What an exception's `code` may be, for the documents that show one (orders, webhook payloads). */
export const exceptionCodeDescription = `${exceptionCodes.slice(0, -1).join(", ")} or ${exceptionCodes.at(-1)} from CELLVI's dispatch side; ${cancelledCode} when you cancelled the order (\`POST /v1/orders/{id}/cancel\`). New codes may be added: treat unknown ones like OTHER.`;
