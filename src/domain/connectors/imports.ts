import type { Db, Queryable } from "../../adapters/db/types.ts";
import { isUuid } from "../keys/store.ts";
import { insertOrder, type TenantScope } from "../orders/store.ts";
import type { MapOutcome, MappingError } from "./mapping.ts";

/**
 * Creating many mapped orders: the batch endpoint, and the CSV, SAP IDoc and Dynamics imports. Each item is
 * validated on its own and its outcome reported on its own (created, duplicate, invalid); the database work is
 * grouped in chunks, one transaction each, so a 50,000-row file is 200 commits, not 50,000, and what a chunk
 * reports as created is committed before the report goes out. Re-sending the same items is safe: external_id makes
 * every one already created a duplicate.
 */

export interface ImportItem {
  /** `index` for JSON items and IDocs (0-based), `row` for CSV (1-based, the header is row 1). */
  location: { index: number } | { row: number };
  outcome: MapOutcome;
}

export type ImportItemResult = (
  | {
      status: "created";
      external_id: string;
      order_id: string;
      tracking_number: string;
      tracking_token: string;
    }
  | { status: "duplicate"; external_id: string; order_id: string }
  | { status: "invalid"; external_id?: string; errors: MappingError[] }
  | { status: "skipped"; external_id?: string; reason: string }
) &
  ({ index: number } | { row: number });

export interface ImportCounters {
  rows_processed: number;
  created: number;
  duplicate: number;
  invalid: number;
}

export function emptyCounters(): ImportCounters {
  return { rows_processed: 0, created: 0, duplicate: 0, invalid: 0 };
}

export function count(counters: ImportCounters, results: ImportItemResult[]): void {
  for (const result of results) {
    counters.rows_processed += 1;
    if (result.status === "created") counters.created += 1;
    else if (result.status === "duplicate") counters.duplicate += 1;
    else counters.invalid += 1;
  }
}

/** Creates the orders of one chunk in one transaction and returns each item's result, in order. */
export async function createChunk(
  db: Db,
  scope: TenantScope,
  items: ImportItem[],
  actor: string,
): Promise<ImportItemResult[]> {
  return db.transaction(async (tx) => {
    const results: ImportItemResult[] = [];
    for (const { location, outcome } of items) {
      if (outcome.kind === "invalid") {
        results.push({
          ...location,
          status: "invalid",
          ...(outcome.reference ? { external_id: outcome.reference } : {}),
          errors: outcome.errors,
        });
        continue;
      }
      if (outcome.kind === "skip") {
        results.push({ ...location, status: "skipped", reason: outcome.reason });
        continue;
      }
      const created = await insertOrder(tx, scope, outcome.input, { actor });
      results.push(
        created.kind === "created"
          ? {
              ...location,
              status: "created",
              external_id: outcome.input.external_id,
              order_id: created.order.id,
              tracking_number: created.order.tracking_number,
              tracking_token: created.order.tracking_token,
            }
          : {
              ...location,
              status: "duplicate",
              external_id: outcome.input.external_id,
              order_id: created.existingOrderId,
            },
      );
    }
    return results;
  });
}

/**
 * Groups any (async) sequence of items into chunks of `size`. When the source fails (a CSV that breaks off), the
 * items read before the failure still come out as a last chunk, then the error is rethrown.
 */
export async function* chunked<T>(items: AsyncIterable<T> | Iterable<T>, size: number): AsyncGenerator<T[]> {
  let chunk: T[] = [];
  try {
    for await (const item of items) {
      chunk.push(item);
      if (chunk.length >= size) {
        yield chunk;
        chunk = [];
      }
    }
  } catch (error) {
    if (chunk.length > 0) {
      const last = chunk;
      chunk = [];
      yield last;
    }
    throw error;
  }
  if (chunk.length > 0) yield chunk;
}

// ---------------------------------------------------------------------------------------------------------------
// The order_imports record

export type ImportFormat = "csv" | "sap_idoc" | "dynamics";
export type ImportStatus = "running" | "completed" | "aborted";

export interface ImportRow extends ImportCounters {
  id: string;
  tenant_id: string;
  mode: TenantScope["mode"];
  format: ImportFormat;
  status: ImportStatus;
  bytes_read: number;
  invalid_sample: Array<{ row?: number; index?: number; errors: MappingError[] }>;
  error: string | null;
  started_at: Date;
  updated_at: Date;
  finished_at: Date | null;
}

/** How many invalid items an import record keeps (all of them go to the caller's response). */
export const invalidSampleSize = 100;

export async function startImport(
  db: Queryable,
  scope: TenantScope,
  format: ImportFormat,
): Promise<ImportRow> {
  const { rows } = await db.query<ImportRow>(
    "insert into order_imports (tenant_id, mode, format, status) values ($1, $2, $3, 'running') returning *",
    [scope.tenantId, scope.mode, format],
  );
  return rows[0]!;
}

export async function recordImportProgress(
  db: Queryable,
  id: string,
  counters: ImportCounters,
  bytesRead: number,
  newInvalid: Array<{ row?: number; index?: number; errors: MappingError[] }>,
): Promise<void> {
  await db.query(
    `update order_imports set
        rows_processed = $2, created = $3, duplicate = $4, invalid = $5, bytes_read = $6, updated_at = now(),
        invalid_sample = case when jsonb_array_length(invalid_sample) >= $8 then invalid_sample
                              else invalid_sample || (select coalesce(jsonb_agg(e), '[]'::jsonb)
                                                        from (select e from jsonb_array_elements($7::jsonb) e
                                                              limit greatest($8 - jsonb_array_length(invalid_sample), 0)) s) end
      where id = $1`,
    [
      id,
      counters.rows_processed,
      counters.created,
      counters.duplicate,
      counters.invalid,
      bytesRead,
      JSON.stringify(newInvalid),
      invalidSampleSize,
    ],
  );
}

export async function finishImport(
  db: Queryable,
  id: string,
  status: Exclude<ImportStatus, "running">,
  error: string | null,
): Promise<ImportRow> {
  const { rows } = await db.query<ImportRow>(
    "update order_imports set status = $2, error = $3, finished_at = now(), updated_at = now() where id = $1 returning *",
    [id, status, error],
  );
  return rows[0]!;
}

export async function getImport(db: Queryable, scope: TenantScope, id: string): Promise<ImportRow | null> {
  if (!isUuid(id)) return null;
  const { rows } = await db.query<ImportRow>(
    "select * from order_imports where id = $1 and tenant_id = $2 and mode = $3",
    [id, scope.tenantId, scope.mode],
  );
  return rows[0] ?? null;
}
