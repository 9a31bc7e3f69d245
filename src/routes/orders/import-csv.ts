import { createRoute } from "@hono/zod-openapi";
import { CsvFormatError, csvHeaderLine, openCsvImport } from "../../domain/connectors/csv.ts";
import {
  chunked,
  count,
  createChunk,
  emptyCounters,
  finishImport,
  type ImportItem,
  recordImportProgress,
  startImport,
} from "../../domain/connectors/imports.ts";
import { authenticate } from "../../http/auth.ts";
import { bodyRuleFor, defaultBodyLimitBytes, limitBodyStream } from "../../http/body-rules.ts";
import type { App } from "../../http/context.ts";
import { ApiError, errorResponses } from "../../http/problem.ts";
import { ImportQuery, importDefaults, location, publicResult, toImport } from "./imports-shared.ts";

/** Rows per transaction: progress is reported, and committed, every this many rows. */
export const csvChunkRows = 250;

const exampleCsv = `${csvHeaderLine}
ERP-2026-0001,Sofía Castaño,+573001112233,sofia@example.com,Calle 72 # 10-34,Piso 3,Bogotá,DC,110231,CO,4.6580,-74.0560,2.5,1,,COP,,standard,,
`;

export const importCsvRoute = createRoute({
  method: "post",
  path: "/v1/imports/csv",
  tags: ["Orders"],
  operationId: "importOrdersCsv",
  summary: "Import orders from a CSV file",
  description: `RFC 4180 CSV in UTF-8 with a header row; one row is one order. Columns (any order, case-insensitive): \`${csvHeaderLine}\`. Required: external_id, recipient_name, recipient_phone, address_line1, city, country, weight_kg (unless \`default_weight_kg\` is given). \`weight_kg\` is the order's total weight, split evenly over \`packages\` parcels.

The file is read as it arrives and never held whole in memory, so files of hundreds of thousands of rows are fine. Rows are created in transactions of ${csvChunkRows}, and the response streams while the upload is read: with \`Accept: application/x-ndjson\` one line per row (\`{"type":"row",...}\`), a \`{"type":"progress",...}\` line after each ${csvChunkRows} rows and a final \`{"type":"import",...}\` line; otherwise one JSON object (the import with all \`results\`). A header problem is a 400 before anything is created. A file that breaks off (an unclosed quote, a dropped connection) ends with \`status: "aborted"\` and an \`error\`; the rows reported before it stay created, and sending the file again is safe (existing external_ids come back as \`duplicate\`). Follow a running import from elsewhere with \`GET /v1/imports/{id}\` (the id is in the \`X-Import-Id\` header).`,
  security: [{ ApiKey: [] }],
  middleware: [authenticate("orders:write")] as const,
  request: {
    query: ImportQuery,
    body: { required: true, content: { "text/csv": { schema: { type: "string" }, example: exampleCsv } } },
  },
  responses: {
    200: {
      description: "Per-row results (streamed)",
      content: {
        // A reference, not the Zod schema: the body is streamed (see the handler), and the component is registered
        // by the document imports, which return the same shape.
        "application/json": { schema: { $ref: "#/components/schemas/ImportWithResults" } },
        "application/x-ndjson": {
          schema: {
            type: "string",
            description: "One JSON object per line: import, row..., progress..., import.",
          },
        },
      },
    },
    ...errorResponses(
      "validation_failed",
      "unauthorized",
      "forbidden",
      "payload_too_large",
      "unsupported_media_type",
      "quota_exceeded",
      "internal_error",
    ),
  },
});

export function registerImportCsv(app: App): void {
  app.openapi(importCsvRoute, async (c) => {
    const services = c.var.services;
    const scope = { tenantId: c.var.auth.tenantId, mode: c.var.auth.mode };
    const defaults = importDefaults(c.req.valid("query"));
    const raw = c.req.raw.body;
    if (!raw)
      throw new ApiError("validation_failed", "The request has no body: send the CSV file.", {
        errors: [{ path: "row 1", message: "empty body" }],
      });
    const body = limitBodyStream(raw, bodyRuleFor(c.req.path)?.maxBytes ?? defaultBodyLimitBytes);
    const opening = await openCsvImport(body, defaults);
    if (!opening.ok) {
      throw new ApiError("validation_failed", "The CSV header is not the documented one.", {
        errors: opening.errors,
      });
    }
    const ndjson = (c.req.header("accept") ?? "").includes("application/x-ndjson");
    const record = await startImport(services.db, scope, "csv");
    const baseUrl = services.config.publicBaseUrl;

    /** The response body, produced as the upload is consumed: one string per piece of output. */
    async function* output(): AsyncGenerator<string> {
      const counters = emptyCounters();
      let first = true;
      if (ndjson) yield `${JSON.stringify({ type: "import", ...toImport(record) })}\n`;
      else yield `{"object":"import","id":${JSON.stringify(record.id)},"format":"csv","results":[`;
      let failure: string | null = null;
      try {
        const items = (async function* (): AsyncGenerator<ImportItem> {
          for await (const { row, outcome } of opening.ok ? opening.rows : [])
            yield { location: { row }, outcome };
        })();
        for await (const chunk of chunked(items, csvChunkRows)) {
          const results = await createChunk(services.db, scope, chunk, "import:csv");
          count(counters, results);
          const invalid = results.flatMap((r) =>
            r.status === "invalid" ? [{ ...location(r), errors: r.errors }] : [],
          );
          await recordImportProgress(
            services.db,
            record.id,
            counters,
            opening.ok ? opening.bytesRead() : 0,
            invalid,
          );
          let text = "";
          for (const result of results) {
            const item = publicResult(baseUrl, result);
            if (ndjson) text += `${JSON.stringify({ type: "row", ...item })}\n`;
            else {
              text += `${first ? "" : ","}${JSON.stringify(item)}`;
              first = false;
            }
          }
          if (ndjson)
            text += `${JSON.stringify({ type: "progress", ...counters, bytes_read: opening.ok ? opening.bytesRead() : 0 })}\n`;
          yield text;
        }
      } catch (error) {
        failure =
          error instanceof CsvFormatError || error instanceof ApiError
            ? error.message
            : "the import stopped on an unexpected error; the rows reported before it are created";
        if (!(error instanceof CsvFormatError || error instanceof ApiError)) {
          services.logger.error({ err: error, import_id: record.id }, "csv import failed");
        }
      }
      done = true;
      const finished = await finishImport(services.db, record.id, failure ? "aborted" : "completed", failure);
      const summary = toImport(finished);
      if (ndjson) yield `${JSON.stringify({ type: "import", ...summary })}\n`;
      else {
        const { object: _object, id: _id, format: _format, ...rest } = summary;
        yield `],${JSON.stringify(rest).slice(1)}`;
      }
    }

    let done = false;
    /** Marks the import aborted when the caller hangs up before the end (the generator is closed at a yield). */
    async function* guarded(): AsyncGenerator<string> {
      try {
        yield* output();
      } finally {
        if (!done) {
          await finishImport(
            services.db,
            record.id,
            "aborted",
            "the client closed the connection before the end",
          ).catch(() => {});
        }
      }
    }
    const pieces = guarded();
    const encoder = new TextEncoder();
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const next = await pieces.next();
        if (next.done) controller.close();
        else controller.enqueue(encoder.encode(next.value));
      },
      async cancel() {
        await pieces.return(undefined);
      },
    });
    // A plain Response (typed `never` for the route's typed helpers, which describe one JSON value): this body is
    // produced while the upload is still streaming in.
    const response = new Response(stream, {
      status: 200,
      headers: {
        "content-type": ndjson ? "application/x-ndjson; charset=utf-8" : "application/json; charset=utf-8",
        "x-import-id": record.id,
        location: `/v1/imports/${record.id}`,
      },
    });
    return response as never;
  });
}
