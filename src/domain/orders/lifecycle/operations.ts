import type { Queryable } from "../../../adapters/db/types.ts";
import { isUuid } from "../../keys/store.ts";
import type { OrderStatus } from "../schemas.ts";
import type { OrderRow, TenantScope } from "../store.ts";
import { estimateArrival } from "./eta.ts";
import type { GeoPoint } from "./geo.ts";
import { decideNearby, type NearbyDecision, type PositionFix } from "./nearby.ts";
import type {
  AssignDriverInput,
  CancelInput,
  DeliverInput,
  ExceptionInput,
  OrderLifecycle,
  PositionsInput,
  PositionsResult,
} from "./schemas.ts";
import { nearbyRadiusFor } from "./settings.ts";
import {
  allowedTransitions,
  cancelledCode,
  canTransition,
  type EventType,
  type ExceptionCode,
  type LifecycleState,
  lifecycleStateOf,
  statusOf,
} from "./transitions.ts";

/**
 * The lifecycle operations of the ops API and the sandbox. Each takes the caller's transaction and leaves the
 * state change to one insert into order_status_history: the database trigger (migration 0002) moves the order and
 * 0001's trigger writes the event, so a change made here and one made with raw SQL produce the same event.
 *
 * Callers run an operation in a transaction and roll it back on any result other than `ok` (the routes do so by
 * throwing), so a multi-step scenario that fails half-way leaves nothing behind.
 */

export interface LifecycleContext {
  /** Recorded in the history's `actor` (`ops:<key id>`, `sandbox:<key id>`). */
  actor: string;
  now: Date;
  averageSpeedKmh: number;
  defaultNearbyRadiusM: number;
}

/** A device clock may run a little fast; beyond this a timestamp "from the future" is a client bug. */
export const maxClockSkewMs = 5 * 60_000;

export interface InputError {
  path: string;
  message: string;
}

export type LifecycleFailure =
  | { kind: "not_found" }
  | {
      kind: "invalid_transition";
      status: OrderStatus;
      closed: boolean;
      from: LifecycleState;
      to: LifecycleState;
      allowed: readonly LifecycleState[];
    }
  /** Positions arrive only while a driver is on the way. */
  | { kind: "not_on_the_way"; status: OrderStatus; closed: boolean; from: LifecycleState }
  | { kind: "no_destination_coordinates" }
  | { kind: "invalid_input"; errors: InputError[] }
  /** The shipper's cancellation comes too late (the driver is at the door, or the order is final). */
  | {
      kind: "not_cancellable";
      status: OrderStatus;
      closed: boolean;
      from: LifecycleState;
      code: string | null;
    };

export type LifecycleResult<T> = { kind: "ok"; value: T } | LifecycleFailure;

interface ProducedEvent {
  id: string;
  type: EventType;
  occurred_at: string;
}

function stateOf(order: Pick<OrderRow, "status" | "closed_at">): LifecycleState {
  return lifecycleStateOf(order.status, order.closed_at !== null);
}

function destinationOf(order: OrderRow): GeoPoint | null {
  const { latitude, longitude } = order.destination;
  return typeof latitude === "number" && typeof longitude === "number" ? { latitude, longitude } : null;
}

/** The order's ETA: only while a driver is on the way and a position with a known distance has arrived. */
export function estimatedDeliveryAt(
  order: Pick<OrderRow, "status" | "closed_at" | "last_position_at" | "last_distance_m">,
  options: { averageSpeedKmh: number; now: Date },
): Date | null {
  const state = stateOf(order);
  if (state !== "DRIVER_ASSIGNED" && state !== "NEARBY") return null;
  if (order.last_position_at === null || order.last_distance_m === null) return null;
  return estimateArrival({
    distanceM: order.last_distance_m,
    positionAt: order.last_position_at,
    averageSpeedKmh: options.averageSpeedKmh,
    now: options.now,
  });
}

export function lifecycleView(
  order: OrderRow,
  events: ProducedEvent[],
  options: { averageSpeedKmh: number; now: Date },
): OrderLifecycle {
  const eta = estimatedDeliveryAt(order, options);
  return {
    object: "order_lifecycle",
    order_id: order.id,
    mode: order.mode,
    external_id: order.external_id,
    tracking_number: order.tracking_number,
    status: order.status,
    closed: order.closed_at !== null,
    attempt: order.attempt,
    driver: order.driver,
    exception: order.exception,
    proof: order.proof,
    last_position:
      order.last_position_at === null || order.last_latitude === null || order.last_longitude === null
        ? null
        : {
            latitude: order.last_latitude,
            longitude: order.last_longitude,
            recorded_at: order.last_position_at.toISOString(),
            distance_m: order.last_distance_m === null ? null : Math.round(order.last_distance_m),
          },
    estimated_delivery_at: eta?.toISOString() ?? null,
    allowed_transitions: [...allowedTransitions(stateOf(order))],
    events,
  };
}

/**
 * Locks the order (tenant- and mode-scoped: another tenant's order, or a live order for a test key, is simply
 * not found) so that concurrent changes of one order are applied one after the other, each validated against the
 * state the previous one left. Also notes the order's newest event, to report the events this call produces.
 */
async function lockOrder(
  tx: Queryable,
  scope: TenantScope,
  orderId: string,
): Promise<{ order: OrderRow; eventSeq: number } | null> {
  if (!isUuid(orderId)) return null;
  const { rows } = await tx.query<OrderRow>(
    "select * from orders where id = $1 and tenant_id = $2 and mode = $3 for update",
    [orderId, scope.tenantId, scope.mode],
  );
  const order = rows[0];
  if (!order) return null;
  const seq = await tx.query<{ seq: number }>(
    "select coalesce(max(seq), 0)::int8 as seq from events where order_id = $1",
    [orderId],
  );
  return { order, eventSeq: seq.rows[0]!.seq };
}

async function reloadOrder(tx: Queryable, orderId: string): Promise<OrderRow> {
  const { rows } = await tx.query<OrderRow>("select * from orders where id = $1", [orderId]);
  return rows[0]!;
}

async function eventsSince(tx: Queryable, orderId: string, seq: number): Promise<ProducedEvent[]> {
  const { rows } = await tx.query<{ id: string; type: EventType; occurred_at: Date }>(
    "select id, type, occurred_at from events where order_id = $1 and seq > $2 order by seq",
    [orderId, seq],
  );
  return rows.map((row) => ({ id: row.id, type: row.type, occurred_at: row.occurred_at.toISOString() }));
}

function checkTransition(order: OrderRow, to: LifecycleState): LifecycleFailure | null {
  const from = stateOf(order);
  if (canTransition(from, to)) return null;
  return {
    kind: "invalid_transition",
    status: order.status,
    closed: order.closed_at !== null,
    from,
    to,
    allowed: allowedTransitions(from),
  };
}

/**
 * The one write of a state change: a history row. The trigger validates it again (the database is the last line
 * for writers that skip this code), moves the order, adds `attempt` and `driver` to the details and writes the
 * event whose payload is the details merged over the order's identifiers. `city` is left to the trigger, which
 * picks the city-level location of each state.
 */
async function writeTransition(
  tx: Queryable,
  order: OrderRow,
  to: LifecycleState,
  entry: { description: string; details: Record<string, unknown>; occurredAt: Date },
  ctx: LifecycleContext,
): Promise<void> {
  await tx.query(
    `insert into order_status_history (order_id, tenant_id, status, description, actor, details, occurred_at)
     values ($1, $2, $3, $4, $5, $6, $7)`,
    [
      order.id,
      order.tenant_id,
      statusOf(to),
      entry.description,
      ctx.actor,
      JSON.stringify(entry.details),
      entry.occurredAt,
    ],
  );
}

async function finish(
  tx: Queryable,
  orderId: string,
  eventSeq: number,
  ctx: LifecycleContext,
): Promise<OrderLifecycle> {
  const order = await reloadOrder(tx, orderId);
  return lifecycleView(order, await eventsSince(tx, orderId, eventSeq), ctx);
}

// ---- the steps, on a locked order ----

async function applyAssignDriver(
  tx: Queryable,
  order: OrderRow,
  input: AssignDriverInput,
  ctx: LifecycleContext,
  occurredAt: Date,
): Promise<LifecycleFailure | null> {
  const failure = checkTransition(order, "DRIVER_ASSIGNED");
  if (failure) return failure;
  const attempt = order.attempt + 1;
  await writeTransition(
    tx,
    order,
    "DRIVER_ASSIGNED",
    {
      description: attempt > 1 ? `Driver assigned (attempt ${attempt})` : "Driver assigned",
      details: { driver: input.driver },
      occurredAt,
    },
    ctx,
  );
  return null;
}

function futureTimestampError(value: Date, now: Date): string | null {
  return value.getTime() > now.getTime() + maxClockSkewMs
    ? `is in the future (more than ${maxClockSkewMs / 60_000} minutes after the server's clock); check the device clock`
    : null;
}

async function applyPositions(
  tx: Queryable,
  order: OrderRow,
  scope: TenantScope,
  fixes: PositionFix[],
  ctx: LifecycleContext,
): Promise<LifecycleFailure | { decision: NearbyDecision; radiusM: number }> {
  const from = stateOf(order);
  if (from !== "DRIVER_ASSIGNED" && from !== "NEARBY") {
    return { kind: "not_on_the_way", status: order.status, closed: order.closed_at !== null, from };
  }
  const radiusM = await nearbyRadiusFor(tx, scope.tenantId, ctx.defaultNearbyRadiusM);
  const decision = decideNearby({
    state: from,
    destination: destinationOf(order),
    radiusM,
    lastPositionAt: order.last_position_at,
    positions: fixes,
  });

  // The whole batch in one statement. Stale fixes are kept too: they are part of the trail even though they no
  // longer count for NEARBY. A retried upload hits the primary key and is skipped.
  await tx.query(
    `insert into order_positions (order_id, tenant_id, attempt, latitude, longitude, recorded_at)
     select $1::uuid, $2::uuid, $3::int, p.latitude, p.longitude, p.recorded_at
       from unnest($4::float8[], $5::float8[], $6::timestamptz[]) as p (latitude, longitude, recorded_at)
     on conflict (order_id, recorded_at) do nothing`,
    [
      order.id,
      order.tenant_id,
      order.attempt,
      fixes.map((f) => f.latitude),
      fixes.map((f) => f.longitude),
      fixes.map((f) => f.recordedAt.toISOString()),
    ],
  );

  if (decision.latest) {
    const { position, distanceM } = decision.latest;
    await tx.query(
      `update orders set last_latitude = $2, last_longitude = $3, last_position_at = $4, last_distance_m = $5
        where id = $1`,
      [order.id, position.latitude, position.longitude, position.recordedAt, distanceM],
    );
  }
  if (decision.fire) {
    const { position, distanceM } = decision.fire;
    await writeTransition(
      tx,
      order,
      "NEARBY",
      {
        description: "The driver is nearby",
        details: {
          position: {
            latitude: position.latitude,
            longitude: position.longitude,
            recorded_at: position.recordedAt.toISOString(),
          },
          distance_m: Math.round(distanceM),
          radius_m: radiusM,
        },
        occurredAt: ctx.now,
      },
      ctx,
    );
  }
  return { decision, radiusM };
}

async function applyDeliver(
  tx: Queryable,
  order: OrderRow,
  input: DeliverInput,
  ctx: LifecycleContext,
  occurredAt: Date,
): Promise<LifecycleFailure | null> {
  const deliveredAt = input.delivered_at ? new Date(input.delivered_at) : occurredAt;
  const future = futureTimestampError(deliveredAt, ctx.now);
  if (future) return { kind: "invalid_input", errors: [{ path: "/delivered_at", message: future }] };
  const failure = checkTransition(order, "DELIVERED");
  if (failure) return failure;
  await writeTransition(
    tx,
    order,
    "DELIVERED",
    {
      // Never the receiver's name here: descriptions are shown on the public tracking page.
      description: "Delivered",
      details: {
        proof: {
          received_by: input.received_by,
          delivered_at: deliveredAt.toISOString(),
          proof_url: input.proof_url ?? null,
        },
      },
      occurredAt,
    },
    ctx,
  );
  return null;
}

/**
 * Public wording per exception code: the free-text message goes to the merchant (event payload), never to the
 * public tracking page, because drivers write things like phone numbers and names in it.
 */
const exceptionDescriptions: Record<ExceptionCode, string> = {
  FAILED_ATTEMPT: "Delivery attempt failed",
  ADDRESS_NOT_FOUND: "Address not found",
  RECIPIENT_ABSENT: "Recipient not available",
  DAMAGED: "Package damaged",
  REFUSED: "Delivery refused",
  OTHER: "Delivery exception",
};

async function applyException(
  tx: Queryable,
  order: OrderRow,
  input: ExceptionInput,
  ctx: LifecycleContext,
  occurredAt: Date,
): Promise<LifecycleFailure | null> {
  const closing = input.close === true;
  const to: LifecycleState = closing ? "CLOSED" : "EXCEPTION";
  const failure = checkTransition(order, to);
  if (failure) return failure;
  const description = exceptionDescriptions[input.code];
  await writeTransition(
    tx,
    order,
    to,
    {
      description: closing ? `Closed: ${description.toLowerCase()}` : description,
      details: { exception: { code: input.code, message: input.message }, closed: closing },
      occurredAt,
    },
    ctx,
  );
  return null;
}

// ---- the operations ----

async function runStep(
  tx: Queryable,
  scope: TenantScope,
  orderId: string,
  ctx: LifecycleContext,
  step: (order: OrderRow) => Promise<LifecycleFailure | null>,
): Promise<LifecycleResult<OrderLifecycle>> {
  const locked = await lockOrder(tx, scope, orderId);
  if (!locked) return { kind: "not_found" };
  const failure = await step(locked.order);
  if (failure) return failure;
  return { kind: "ok", value: await finish(tx, orderId, locked.eventSeq, ctx) };
}

/** CREATED or EXCEPTION -> DRIVER_ASSIGNED: starts a delivery attempt with this driver. */
export function assignDriver(
  tx: Queryable,
  scope: TenantScope,
  orderId: string,
  input: AssignDriverInput,
  ctx: LifecycleContext,
): Promise<LifecycleResult<OrderLifecycle>> {
  return runStep(tx, scope, orderId, ctx, (order) => applyAssignDriver(tx, order, input, ctx, ctx.now));
}

/** DRIVER_ASSIGNED or NEARBY -> DELIVERED, with the proof of delivery. */
export function deliverOrder(
  tx: Queryable,
  scope: TenantScope,
  orderId: string,
  input: DeliverInput,
  ctx: LifecycleContext,
): Promise<LifecycleResult<OrderLifecycle>> {
  return runStep(tx, scope, orderId, ctx, (order) => applyDeliver(tx, order, input, ctx, ctx.now));
}

/** -> EXCEPTION (or, with `close`, CLOSED: the exception is final). */
export function reportException(
  tx: Queryable,
  scope: TenantScope,
  orderId: string,
  input: ExceptionInput,
  ctx: LifecycleContext,
): Promise<LifecycleResult<OrderLifecycle>> {
  return runStep(tx, scope, orderId, ctx, (order) => applyException(tx, order, input, ctx, ctx.now));
}

/** The history's description of a cancellation (the tracking page translates it). */
export const cancelledDescription = "Cancelled by the shipper";
/**
 * Where a shipper may still cancel: before a driver reaches the destination, and after a failed attempt. From
 * NEARBY the driver is at the door, and DELIVERED and CLOSED are final: CELLVI's dispatch side decides then.
 */
const cancellableStates: ReadonlySet<LifecycleState> = new Set(["CREATED", "DRIVER_ASSIGNED", "EXCEPTION"]);

/**
 * The shipper cancels its order: CREATED, DRIVER_ASSIGNED or EXCEPTION -> CLOSED, with the exception
 * {code: CANCELLED, message: the reason}; the EXCEPTION event (closed) tells every subscriber. Cancelling an order
 * this operation already cancelled changes nothing and produces no event (an ERP retrying its cancel gets 200).
 */
export function cancelOrder(
  tx: Queryable,
  scope: TenantScope,
  orderId: string,
  input: CancelInput,
  ctx: LifecycleContext,
): Promise<LifecycleResult<OrderLifecycle>> {
  return runStep(tx, scope, orderId, ctx, async (order) => {
    const from = stateOf(order);
    if (from === "CLOSED" && order.exception?.code === cancelledCode) return null;
    if (!cancellableStates.has(from)) {
      return {
        kind: "not_cancellable",
        status: order.status,
        closed: order.closed_at !== null,
        from,
        code: order.exception?.code ?? null,
      };
    }
    await writeTransition(
      tx,
      order,
      "CLOSED",
      {
        description: `Closed: ${cancelledDescription.toLowerCase()}`,
        details: {
          exception: { code: cancelledCode, message: input.reason ?? cancelledDescription },
          closed: true,
        },
        occurredAt: ctx.now,
      },
      ctx,
    );
    return null;
  });
}

function roundOrNull(value: number | null): number | null {
  return value === null ? null : Math.round(value);
}

function toFixes(input: PositionsInput): PositionFix[] {
  return input.positions.map((p) => ({
    latitude: p.latitude,
    longitude: p.longitude,
    recordedAt: new Date(p.recorded_at),
  }));
}

/**
 * Stores a batch of driver positions, moves the order's last position forward, and fires NEARBY when the rules of
 * `decideNearby` say so (at most once per attempt).
 */
export async function recordPositions(
  tx: Queryable,
  scope: TenantScope,
  orderId: string,
  input: PositionsInput,
  ctx: LifecycleContext,
): Promise<LifecycleResult<PositionsResult>> {
  const fixes = toFixes(input);
  const errors: InputError[] = [];
  fixes.forEach((fix, i) => {
    const future = futureTimestampError(fix.recordedAt, ctx.now);
    if (future) errors.push({ path: `/positions/${i}/recorded_at`, message: future });
  });
  if (errors.length > 0) return { kind: "invalid_input", errors };

  const locked = await lockOrder(tx, scope, orderId);
  if (!locked) return { kind: "not_found" };
  const applied = await applyPositions(tx, locked.order, scope, fixes, ctx);
  if ("kind" in applied) return applied;
  const { decision, radiusM } = applied;
  const view = await finish(tx, orderId, locked.eventSeq, ctx);
  return {
    kind: "ok",
    value: {
      ...view,
      positions: { received: fixes.length, considered: decision.fresh.length, ignored_stale: decision.stale },
      nearby: {
        fired: decision.fire !== null,
        reason: decision.reason,
        radius_m: radiusM,
        // The distance that fired NEARBY, else the newest position's (null: nothing new, or no coordinates).
        distance_m: roundOrNull(decision.fire?.distanceM ?? decision.latest?.distanceM ?? null),
      },
    },
  };
}

// ---- the sandbox: the same steps, with made-up but plausible inputs ----

export const sandboxDriver = {
  id: "drv_sandbox",
  name: "Camila Rojas",
  phone: "+573005550101",
  vehicle_plate: "SBX-123",
} as const;

/** Metres per degree of latitude (on the mean-radius sphere): to place a simulated fix at a chosen distance. */
const metresPerDegreeLatitude = 111_195;

export type SandboxEvent = "DRIVER_ASSIGNED" | "NEARBY" | "DELIVERED" | "EXCEPTION";

export interface SandboxOverrides {
  driver?: AssignDriverInput["driver"] | undefined;
  exception?: ExceptionInput | undefined;
  delivery?: DeliverInput | undefined;
}

async function applySandboxStep(
  tx: Queryable,
  scope: TenantScope,
  order: OrderRow,
  event: SandboxEvent,
  overrides: SandboxOverrides,
  ctx: LifecycleContext,
  occurredAt: Date,
): Promise<LifecycleFailure | null> {
  switch (event) {
    case "DRIVER_ASSIGNED":
      return applyAssignDriver(
        tx,
        order,
        { driver: overrides.driver ?? { ...sandboxDriver } },
        ctx,
        occurredAt,
      );
    case "NEARBY": {
      const failure = checkTransition(order, "NEARBY");
      if (failure) return failure;
      const destination = destinationOf(order);
      if (!destination) return { kind: "no_destination_coordinates" };
      // A real position through the real NEARBY decision: newer than any the order has seen, and inside the
      // tenant's radius (half of it, at most 150 m), on the equator side so the latitude stays valid.
      const radiusM = await nearbyRadiusFor(tx, scope.tenantId, ctx.defaultNearbyRadiusM);
      const offsetDegrees = Math.min(150, radiusM / 2) / metresPerDegreeLatitude;
      const lastMs = order.last_position_at?.getTime() ?? Number.NEGATIVE_INFINITY;
      const fix: PositionFix = {
        latitude: destination.latitude + (destination.latitude > 0 ? -offsetDegrees : offsetDegrees),
        longitude: destination.longitude,
        recordedAt: new Date(Math.max(occurredAt.getTime(), lastMs + 1000)),
      };
      const applied = await applyPositions(tx, order, scope, [fix], { ...ctx, now: occurredAt });
      if ("kind" in applied) return applied;
      if (!applied.decision.fire) {
        throw new Error(`sandbox NEARBY did not fire for order ${order.id}: ${applied.decision.reason}`);
      }
      return null;
    }
    case "DELIVERED":
      return applyDeliver(
        tx,
        order,
        overrides.delivery ?? { received_by: order.recipient.name },
        ctx,
        occurredAt,
      );
    case "EXCEPTION":
      return applyException(
        tx,
        order,
        overrides.exception ?? {
          code: "RECIPIENT_ABSENT",
          message: "Sandbox: nobody answered at the door",
        },
        ctx,
        occurredAt,
      );
  }
}

/** Moves a test order one step, through exactly the transitions and events of the ops API. */
export async function simulateEvent(
  tx: Queryable,
  scope: TenantScope,
  orderId: string,
  event: SandboxEvent,
  overrides: SandboxOverrides,
  ctx: LifecycleContext,
): Promise<LifecycleResult<OrderLifecycle>> {
  return runStep(tx, scope, orderId, ctx, (order) =>
    applySandboxStep(tx, scope, order, event, overrides, ctx, ctx.now),
  );
}

/**
 * The rest of a successful delivery from wherever the order is: DRIVER_ASSIGNED (from CREATED or an open
 * EXCEPTION), NEARBY, DELIVERED. Every step is checked before the first is written, so a scenario that cannot
 * complete changes nothing. Steps are 1 ms apart so their events sort in order by time as well as by sequence.
 */
export async function simulateHappyPath(
  tx: Queryable,
  scope: TenantScope,
  orderId: string,
  overrides: SandboxOverrides,
  ctx: LifecycleContext,
): Promise<LifecycleResult<OrderLifecycle>> {
  const locked = await lockOrder(tx, scope, orderId);
  if (!locked) return { kind: "not_found" };
  const start = stateOf(locked.order);
  const steps: SandboxEvent[] =
    start === "CREATED" || start === "EXCEPTION"
      ? ["DRIVER_ASSIGNED", "NEARBY", "DELIVERED"]
      : start === "DRIVER_ASSIGNED"
        ? ["NEARBY", "DELIVERED"]
        : start === "NEARBY"
          ? ["DELIVERED"]
          : [];
  if (steps.length === 0) return checkTransition(locked.order, "DELIVERED")!;
  if (steps.includes("NEARBY") && !destinationOf(locked.order)) return { kind: "no_destination_coordinates" };

  let order = locked.order;
  for (const [i, step] of steps.entries()) {
    const occurredAt = new Date(ctx.now.getTime() + i);
    const failure = await applySandboxStep(tx, scope, order, step, overrides, ctx, occurredAt);
    if (failure) return failure;
    order = await reloadOrder(tx, orderId);
  }
  return { kind: "ok", value: await finish(tx, orderId, locked.eventSeq, ctx) };
}
