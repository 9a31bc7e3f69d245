import type { Db, Queryable } from "../../adapters/db/types.ts";
import { insertOrder } from "../orders/store.ts";
import type { MapOutcome } from "./mapping.ts";
import {
  type ConnectorRow,
  claimDelivery,
  type DeliveryRow,
  recordDeliveryOutcome,
  scopeOf,
} from "./store.ts";

/**
 * Exactly-once intake of one platform delivery. The delivery row, the order and its ORDER_CREATED event commit in
 * one transaction, so:
 * - a platform's retry of the same delivery (same delivery key) finds the first outcome and creates nothing;
 * - another delivery of the same order (a second webhook, a poll that overlaps a webhook) maps to the same
 *   external_id and is recorded as a duplicate of the existing order;
 * - a crash before commit leaves nothing behind, and the platform's retry starts afresh.
 * A rejected delivery is processed again when retried: the tenant may have fixed the connector's defaults meanwhile.
 */

export interface IntakeResult {
  delivery: DeliveryRow;
  /** The delivery key was seen before and its first outcome is returned. */
  replayed: boolean;
  trackingNumber?: string | undefined;
}

/** Applies a mapping outcome to a claimed delivery: creates the order, or records the skip or the errors. */
export async function applyOutcome(
  tx: Queryable,
  connector: ConnectorRow,
  deliveryId: string,
  outcome: MapOutcome,
): Promise<{ delivery: DeliveryRow; trackingNumber?: string | undefined }> {
  if (outcome.kind === "skip") {
    const delivery = await recordDeliveryOutcome(tx, deliveryId, {
      status: "skipped",
      platformOrderId: outcome.reference,
      detail: outcome.reason,
    });
    return { delivery };
  }
  if (outcome.kind === "invalid") {
    const delivery = await recordDeliveryOutcome(tx, deliveryId, {
      status: "rejected",
      platformOrderId: outcome.reference || undefined,
      detail: `${outcome.errors.length} ${outcome.errors.length === 1 ? "field" : "fields"} could not be mapped`,
      errors: outcome.errors,
    });
    return { delivery };
  }
  const created = await insertOrder(tx, scopeOf(connector), outcome.input, {
    actor: `connector:${connector.platform}`,
  });
  if (created.kind === "duplicate") {
    const delivery = await recordDeliveryOutcome(tx, deliveryId, {
      status: "duplicate",
      platformOrderId: outcome.reference,
      externalId: outcome.input.external_id,
      orderId: created.existingOrderId,
      detail: `an order with external_id "${outcome.input.external_id}" already exists`,
    });
    return { delivery };
  }
  const delivery = await recordDeliveryOutcome(tx, deliveryId, {
    status: "created",
    platformOrderId: outcome.reference,
    externalId: outcome.input.external_id,
    orderId: created.order.id,
  });
  return { delivery, trackingNumber: created.order.tracking_number };
}

export async function receiveDelivery(
  db: Db,
  connector: ConnectorRow,
  delivery: { key: string; topic: string | null },
  map: () => MapOutcome,
): Promise<IntakeResult> {
  return db.transaction(async (tx) => {
    const claim = await claimDelivery(tx, connector, delivery.key, delivery.topic);
    if (!claim.isNew && claim.row.status !== "rejected") return { delivery: claim.row, replayed: true };
    const applied = await applyOutcome(tx, connector, claim.row.id, map());
    return { ...applied, replayed: false };
  });
}

/** Records a delivery that is acknowledged without an order to map (a topic the connector does not handle). */
export async function recordSkippedDelivery(
  db: Db,
  connector: ConnectorRow,
  delivery: { key: string; topic: string | null },
  reason: string,
  reference?: string,
): Promise<IntakeResult> {
  return receiveDelivery(db, connector, delivery, () => ({ kind: "skip", reason, reference }));
}
