import { z } from "@hono/zod-openapi";
import {
  chunked,
  count,
  createChunk,
  emptyCounters,
  finishImport,
  type ImportFormat,
  type ImportItem,
  type ImportItemResult,
  type ImportRow,
  recordImportProgress,
  startImport,
} from "../../domain/connectors/imports.ts";
import type { MappingDefaults } from "../../domain/connectors/mapping.ts";
import { serviceLevels } from "../../domain/orders/schemas.ts";
import type { TenantScope } from "../../domain/orders/store.ts";
import { trackingUrl } from "../../domain/orders/tracking-ids.ts";
import type { Services } from "../../services.ts";

/** Shared by the batch endpoint and the file imports (CSV, SAP IDoc, Dynamics): schemas and the result shapes. */

export const ImportQuery = z.object({
  default_weight_kg: z.coerce.number().positive().max(1000).optional().openapi({
    description:
      "Weight (kg) for a package whose line or row carries none. Without it, such an item is invalid.",
    example: 1,
  }),
  service_level: z
    .enum(serviceLevels)
    .optional()
    .openapi({ description: "Service level of orders that do not say." }),
});

export function importDefaults(query: z.infer<typeof ImportQuery>): MappingDefaults {
  return { packageWeightKg: query.default_weight_kg, serviceLevel: query.service_level };
}

export const ItemResultSchema = z
  .object({
    index: z
      .number()
      .int()
      .optional()
      .openapi({ description: "Position of the item (0-based) in a batch or document." }),
    row: z.number().int().optional().openapi({ description: "CSV row (the header is row 1)." }),
    status: z.enum(["created", "duplicate", "invalid", "skipped"]),
    external_id: z.string().optional(),
    order_id: z
      .string()
      .optional()
      .openapi({ description: "The new order (created) or the existing one (duplicate)." }),
    tracking_number: z.string().optional(),
    tracking_url: z.string().optional(),
    errors: z
      .array(z.object({ path: z.string(), message: z.string() }))
      .optional()
      .openapi({
        example: [
          { path: "row 3/recipient_phone", message: "recipient.phone is required: the cell is empty" },
        ],
      }),
    reason: z.string().optional(),
  })
  .openapi("ImportItemResult");

export function publicResult(baseUrl: string, result: ImportItemResult) {
  if (result.status === "created") {
    const { tracking_token: token, ...rest } = result;
    return { ...rest, tracking_url: trackingUrl(baseUrl, result.tracking_number, token) };
  }
  return result;
}

export const ImportSchema = z
  .object({
    object: z.literal("import"),
    id: z.uuid(),
    format: z.enum(["csv", "sap_idoc", "dynamics"]),
    status: z.enum(["running", "completed", "aborted"]).openapi({
      description:
        "`aborted`: the file could not be read to the end (see `error`); the rows reported before stay created.",
    }),
    rows_processed: z.number().int(),
    created: z.number().int(),
    duplicate: z.number().int(),
    invalid: z.number().int(),
    bytes_read: z.number().int(),
    invalid_sample: z
      .array(
        z.object({
          row: z.number().optional(),
          index: z.number().optional(),
          errors: z.array(z.object({ path: z.string(), message: z.string() })),
        }),
      )
      .openapi({
        description: "The first 100 invalid items (the response to the upload lists them all).",
      }),
    error: z.string().nullable(),
    started_at: z.string(),
    updated_at: z.string(),
    finished_at: z.string().nullable(),
  })
  .openapi("Import");

export const ImportWithResultsSchema = ImportSchema.extend({ results: z.array(ItemResultSchema) }).openapi(
  "ImportWithResults",
);

export function toImport(row: ImportRow) {
  return {
    object: "import" as const,
    id: row.id,
    format: row.format,
    status: row.status,
    rows_processed: row.rows_processed,
    created: row.created,
    duplicate: row.duplicate,
    invalid: row.invalid,
    bytes_read: Number(row.bytes_read),
    invalid_sample: row.invalid_sample,
    error: row.error,
    started_at: row.started_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    finished_at: row.finished_at?.toISOString() ?? null,
  };
}

/**
 * Runs a small document import (SAP IDoc, Dynamics) to the end and returns the finished record with every result.
 */
export async function importDocument(
  services: Services,
  scope: TenantScope,
  format: ImportFormat,
  items: ImportItem[],
  bytes: number,
) {
  const record = await startImport(services.db, scope, format);
  const counters = emptyCounters();
  const results: ReturnType<typeof publicResult>[] = [];
  try {
    for await (const chunk of chunked(items, 100)) {
      const chunkResults = await createChunk(services.db, scope, chunk, `import:${format}`);
      count(counters, chunkResults);
      const invalid = chunkResults.flatMap((r) =>
        r.status === "invalid" ? [{ ...location(r), errors: r.errors }] : [],
      );
      await recordImportProgress(services.db, record.id, counters, bytes, invalid);
      for (const result of chunkResults) results.push(publicResult(services.config.publicBaseUrl, result));
    }
  } catch (error) {
    await finishImport(services.db, record.id, "aborted", (error as Error).message).catch(() => {});
    throw error;
  }
  const finished = await finishImport(services.db, record.id, "completed", null);
  return { ...toImport(finished), results };
}

export function location(result: ImportItemResult): { row: number } | { index: number } {
  return "row" in result ? { row: result.row } : { index: result.index };
}
