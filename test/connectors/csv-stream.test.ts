import { request as httpRequest, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { csvHeaderLine } from "../../src/domain/connectors/csv.ts";
import { applyHttpTimeouts } from "../../src/http/server-timeouts.ts";
import { createTestContext, type TestContext } from "../support/app.ts";
import { dbKinds } from "../support/db.ts";
import { connectorEnv, countRows } from "./support.ts";

const totalRows = 50_000;
const rowsPerWrite = 1_000;

/** Row n of the generated file; every 10,000th row has no phone, so invalid rows are reported on the way. */
function csvRow(n: number): string {
  const phone = n % 10_000 === 0 ? "" : `+57300${String(n).padStart(7, "0")}`;
  const notes = n % 7 === 0 ? `"Llamar, ""urgente"" ${n}"` : "";
  return `BIG-${n},Cliente ${n},${phone},,Calle ${n % 200} # ${n % 97}-${n % 50},,Bogotá,DC,110111,CO,4.6,-74.08,${(n % 20) + 1},1,,COP,${notes},,,`;
}

interface StreamedImport {
  lines: Array<Record<string, unknown>>;
  /** Orders in the database just before the client wrote its last chunk. */
  ordersBeforeLastWrite: number;
  /** Response lines (progress) received before the client wrote its last chunk. */
  linesBeforeLastWrite: number;
}

/**
 * Uploads the generated file over a real socket, chunk by chunk with back-pressure, and reads the NDJSON response
 * while still uploading. If the server buffered the whole body first, nothing could be created or reported before
 * the last chunk is written.
 */
function streamImport(port: number, apiKey: string, t: TestContext): Promise<StreamedImport> {
  return new Promise((resolve, reject) => {
    const lines: Array<Record<string, unknown>> = [];
    let pending = "";
    let ordersBeforeLastWrite = -1;
    let linesBeforeLastWrite = -1;
    const request = httpRequest({
      host: "127.0.0.1",
      port,
      method: "POST",
      path: "/v1/imports/csv",
      headers: {
        authorization: `Bearer ${apiKey}`,
        "content-type": "text/csv",
        accept: "application/x-ndjson",
      },
    });
    request.on("response", (response: IncomingMessage) => {
      response.setEncoding("utf8");
      response.on("data", (text: string) => {
        pending += text;
        const complete = pending.split("\n");
        pending = complete.pop() ?? "";
        for (const line of complete) if (line.trim()) lines.push(JSON.parse(line));
      });
      response.on("end", () => resolve({ lines, ordersBeforeLastWrite, linesBeforeLastWrite }));
      response.on("error", reject);
    });
    request.on("error", reject);
    (async () => {
      const write = (text: string) =>
        new Promise<void>((done) => {
          if (request.write(text)) done();
          else request.once("drain", () => done());
        });
      await write(`${csvHeaderLine}\n`);
      for (let start = 1; start <= totalRows; start += rowsPerWrite) {
        const rows: string[] = [];
        for (let n = start; n < start + rowsPerWrite; n++) rows.push(csvRow(n));
        if (start + rowsPerWrite > totalRows) {
          // Hold the last chunk back until the server reports something (bounded): a server that buffers the
          // whole body first can report nothing before it has the last chunk, and fails the assertions below.
          for (let wait = 0; wait < 2_400 && !lines.some((line) => line.type === "progress"); wait++) {
            await new Promise((done) => setTimeout(done, 50));
          }
          ordersBeforeLastWrite = await countRows(t, "orders", "external_id like 'BIG-%'");
          linesBeforeLastWrite = lines.length;
        }
        await write(`${rows.join("\n")}\n`);
      }
      request.end();
    })().catch(reject);
  });
}

describe.each(dbKinds)("a 50,000-row CSV on %s", (kind) => {
  let t: TestContext;
  let apiKey: string;
  let server: ReturnType<typeof serve>;
  let port: number;
  beforeAll(async () => {
    t = await createTestContext(kind, { env: connectorEnv });
    apiKey = (await t.newTenant()).apiKey;
    server = serve({ fetch: t.app.fetch, port: 0, hostname: "127.0.0.1" });
    // As the service's server: a busy machine once took this import past Node's 300 s limit on a whole request.
    applyHttpTimeouts(server as Server, t.services.config.HTTP_IDLE_TIMEOUT_MS);
    await new Promise<void>((resolve) => server.once("listening", () => resolve()));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await t.close();
  });

  it("streams in and out: orders exist and progress arrives before the upload ends, and every row is accounted for", {
    timeout: 600_000,
  }, async () => {
    const result = await streamImport(port, apiKey, t);

    // It streamed: before the client sent its last chunk, orders were already created and reported back.
    expect(result.ordersBeforeLastWrite).toBeGreaterThan(0);
    expect(result.linesBeforeLastWrite).toBeGreaterThan(0);
    expect(result.ordersBeforeLastWrite).toBeLessThan(totalRows);

    const rows = result.lines.filter((line) => line.type === "row");
    const progress = result.lines.filter((line) => line.type === "progress");
    const summary = result.lines.at(-1)!;
    expect(rows).toHaveLength(totalRows);
    expect(rows.map((line) => line.row)).toEqual(Array.from({ length: totalRows }, (_, i) => i + 2));
    expect(progress).toHaveLength(totalRows / 250);
    expect(progress.map((line) => line.rows_processed)).toEqual(
      Array.from({ length: totalRows / 250 }, (_, i) => (i + 1) * 250),
    );
    expect(summary).toMatchObject({
      type: "import",
      status: "completed",
      rows_processed: totalRows,
      created: totalRows - 5,
      invalid: 5,
      duplicate: 0,
      error: null,
    });
    const invalid = rows.filter((line) => line.status === "invalid");
    expect(invalid.map((line) => line.row)).toEqual([10_001, 20_001, 30_001, 40_001, 50_001]);
    expect(invalid[0]).toMatchObject({
      errors: [{ path: "row 10001/recipient_phone", message: expect.any(String) }],
    });

    expect(await countRows(t, "orders", "external_id like 'BIG-%'")).toBe(totalRows - 5);
    expect(
      await countRows(
        t,
        "events e join orders o on o.id = e.order_id",
        "o.external_id like 'BIG-%' and e.type = 'ORDER_CREATED'",
      ),
    ).toBe(totalRows - 5);
    const { rows: sample } = await t.services.db.query<Record<string, unknown>>(
      "select external_id, recipient, destination, packages, currency, notes from orders where external_id in ('BIG-7', 'BIG-49999') order by external_id",
    );
    expect(sample).toEqual([
      {
        external_id: "BIG-49999",
        recipient: { name: "Cliente 49999", phone: "+573000049999" },
        destination: {
          address_line1: `Calle ${49999 % 200} # ${49999 % 97}-${49999 % 50}`,
          city: "Bogotá",
          region: "DC",
          postal_code: "110111",
          country: "CO",
          latitude: 4.6,
          longitude: -74.08,
        },
        packages: [{ weight_kg: (49999 % 20) + 1 }],
        currency: "COP",
        notes: null,
      },
      {
        external_id: "BIG-7",
        recipient: { name: "Cliente 7", phone: "+573000000007" },
        destination: {
          address_line1: "Calle 7 # 7-7",
          city: "Bogotá",
          region: "DC",
          postal_code: "110111",
          country: "CO",
          latitude: 4.6,
          longitude: -74.08,
        },
        packages: [{ weight_kg: 8 }],
        currency: "COP",
        notes: 'Llamar, "urgente" 7',
      },
    ]);
    const record = await (await t.request(`/v1/imports/${summary.id}`, { key: apiKey })).json();
    expect(record).toMatchObject({
      status: "completed",
      rows_processed: totalRows,
      created: totalRows - 5,
      invalid: 5,
    });
    expect(record.bytes_read).toBeGreaterThan(totalRows * 60);
    expect(record.invalid_sample).toHaveLength(5);
  });
});
