import type { Queryable } from "../adapters/db/types.ts";
import type { Config } from "../config.ts";
import type { Services } from "../services.ts";
import { pruneIdempotencyKeys } from "./idempotency/run.ts";
import { sealWebhookSecrets } from "./webhooks/sealed-secrets.ts";

/** How long each kind of record is kept, in days (0: kept forever). */
export interface RetentionSettings {
  /** Webhook deliveries that succeeded or failed for good (their attempts go with them); pending ones stay. */
  webhookDeliveryDays: number;
  /** Outbox events. Deliveries carry their own signed body, so a pending delivery never needs its event. */
  eventDays: number;
  /** The drivers' GPS trail (`order_positions`): personal data, kept no longer than disputes need. */
  positionDays: number;
}

export interface RetentionResult {
  webhookDeliveries: number;
  events: number;
  positions: number;
}

/** Rows deleted per statement, so no prune holds many row locks or writes a long transaction. */
const batchSize = 5_000;
/** Statements per kind and run, unless the caller bounds it: a larger backlog is worked off over the next runs. */
const maxBatchesPerRun = 200;

export function retentionSettings(config: Config): RetentionSettings {
  return {
    webhookDeliveryDays: config.WEBHOOK_DELIVERY_RETENTION_DAYS,
    eventDays: config.EVENT_RETENTION_DAYS,
    positionDays: config.POSITION_RETENTION_DAYS,
  };
}

/**
 * The hourly housekeeping of every deployment (the Node server's timer, the `webhook-dispatcher` Edge Function):
 * idempotency records past their replay window, then what is past its retention, then webhook signing secrets not
 * yet sealed with the current key (rows written before sealing, or after a key rotation). Each part logs its own
 * failure and the others still run; `maxBatches` bounds the statements per kind (an Edge invocation has a time
 * budget).
 */
export async function housekeep(
  services: Pick<Services, "db" | "config" | "logger">,
  maxBatches = maxBatchesPerRun,
): Promise<void> {
  const { db, config, logger } = services;
  let idempotencyKeys = 0;
  try {
    idempotencyKeys = await pruneIdempotencyKeys(db);
  } catch (error) {
    logger.warn({ err: error }, "idempotency prune failed");
  }
  try {
    const pruned = await pruneRetained(db, retentionSettings(config), maxBatches);
    logger.info({ pruned: { idempotencyKeys, ...pruned } }, "housekeeping done");
  } catch (error) {
    logger.warn({ err: error }, "retention prune failed");
  }
  await sealWebhookSecrets(services, maxBatches);
}

/**
 * Deletes what is past its retention, in batches of `batchSize` rows, each its own statement. Instances may run it
 * at the same time: a batch skips rows another instance's batch has locked (`for update skip locked`).
 */
export async function pruneRetained(
  db: Queryable,
  settings: RetentionSettings,
  maxBatches = maxBatchesPerRun,
): Promise<RetentionResult> {
  const result: RetentionResult = { webhookDeliveries: 0, events: 0, positions: 0 };
  if (settings.webhookDeliveryDays > 0) {
    result.webhookDeliveries = await deleteInBatches(
      db,
      `delete from webhook_deliveries where id in (
         select id from webhook_deliveries
          where created_at < now() - make_interval(days => $1) and status <> 'pending'
          limit $2 for update skip locked)`,
      settings.webhookDeliveryDays,
      maxBatches,
    );
  }
  if (settings.eventDays > 0) {
    result.events = await deleteInBatches(
      db,
      `delete from events where id in (
         select id from events where created_at < now() - make_interval(days => $1)
          limit $2 for update skip locked)`,
      settings.eventDays,
      maxBatches,
    );
  }
  if (settings.positionDays > 0) {
    result.positions = await deleteInBatches(
      db,
      `delete from order_positions where (order_id, recorded_at) in (
         select order_id, recorded_at from order_positions
          where received_at < now() - make_interval(days => $1)
          limit $2 for update skip locked)`,
      settings.positionDays,
      maxBatches,
    );
  }
  return result;
}

async function deleteInBatches(
  db: Queryable,
  sql: string,
  days: number,
  maxBatches: number,
): Promise<number> {
  let deleted = 0;
  for (let batch = 0; batch < maxBatches; batch++) {
    const { rowCount } = await db.query(sql, [days, batchSize]);
    deleted += rowCount;
    if (rowCount < batchSize) break;
  }
  return deleted;
}
