import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { csvHeaderLine } from "../../src/domain/connectors/csv.ts";
import { createTestContext, orderBody, type TestContext } from "../support/app.ts";
import { dbKinds } from "../support/db.ts";
import { connectorEnv, countRows, fixtureText } from "./support.ts";

type Json = Record<string, unknown>;

describe.each(dbKinds)("batch and file imports on %s", (kind) => {
  let t: TestContext;
  let key: string;
  beforeAll(async () => {
    t = await createTestContext(kind, { env: connectorEnv });
    key = (await t.newTenant()).apiKey;
  });
  afterAll(() => t.close());

  describe("POST /v1/orders/batch", () => {
    it("points an unknown field of one order at that field", async () => {
      const orders = [orderBody({ external_id: "B-UNKNOWN", colour: "red" })];
      const response = await t.request("/v1/orders/batch", { method: "POST", key, json: { orders } });
      const body = await response.json();
      expect(body.results[0]).toMatchObject({ status: "invalid", external_id: "B-UNKNOWN" });
      expect(body.results[0].errors.map((error: { path: string }) => error.path)).toEqual([
        "/orders/0/colour",
      ]);
    });

    it("creates each valid order, reports each invalid one with its path, and is idempotent by external_id", async () => {
      const orders = [
        orderBody({ external_id: "B-1" }),
        orderBody({ external_id: "B-2", recipient: { name: "Sin teléfono" } }),
        orderBody({ external_id: "B-3", packages: [] }),
        "not an order",
        orderBody({ external_id: "B-1" }),
      ];
      const response = await t.request("/v1/orders/batch", { method: "POST", key, json: { orders } });
      expect(response.status).toBe(200);
      const body = await response.json();
      expect(body).toMatchObject({ object: "batch", total: 5, created: 1, duplicate: 1, invalid: 3 });
      expect(body.results[0]).toEqual({
        index: 0,
        status: "created",
        external_id: "B-1",
        order_id: expect.any(String),
        tracking_number: expect.any(String),
        tracking_url: expect.stringContaining("/v1/tracking/"),
      });
      expect(body.results[1]).toMatchObject({ index: 1, status: "invalid", external_id: "B-2" });
      expect(body.results[1].errors).toContainEqual({
        path: "/orders/1/recipient/phone",
        message: expect.any(String),
      });
      expect(body.results[2].errors).toContainEqual({
        path: "/orders/2/packages",
        message: expect.any(String),
      });
      expect(body.results[3]).toMatchObject({
        index: 3,
        status: "invalid",
        errors: [{ path: "/orders/3", message: expect.any(String) }],
      });
      expect(body.results[4]).toEqual({
        index: 4,
        status: "duplicate",
        external_id: "B-1",
        order_id: body.results[0].order_id,
      });

      const again = await (
        await t.request("/v1/orders/batch", {
          method: "POST",
          key,
          json: { orders: [orders[0], orderBody({ external_id: "B-4" })] },
        })
      ).json();
      expect(again.results.map((r: Json) => r.status)).toEqual(["duplicate", "created"]);
      expect(await countRows(t, "orders", "external_id like 'B-%'")).toBe(2);
      const { rows } = await t.services.db.query(
        "select type from events e join orders o on o.id = e.order_id where o.external_id = 'B-4'",
      );
      expect(rows).toEqual([{ type: "ORDER_CREATED" }]);
    });

    it("takes 1,000 orders and refuses more, an empty list, and a bad envelope", async () => {
      const thousand = Array.from({ length: 1000 }, (_, i) => orderBody({ external_id: `K-${i}` }));
      const ok = await (
        await t.request("/v1/orders/batch", { method: "POST", key, json: { orders: thousand } })
      ).json();
      expect(ok).toMatchObject({ total: 1000, created: 1000 });
      const tooMany = await t.request("/v1/orders/batch", {
        method: "POST",
        key,
        json: { orders: [...thousand, orderBody()] },
      });
      expect(tooMany.status).toBe(400);
      expect((await tooMany.json()).errors).toEqual([{ path: "/orders", message: expect.any(String) }]);
      expect(
        (await t.request("/v1/orders/batch", { method: "POST", key, json: { orders: [] } })).status,
      ).toBe(400);
      expect((await t.request("/v1/orders/batch", { method: "POST", key, json: [orderBody()] })).status).toBe(
        400,
      );
      const malformed = await t.request("/v1/orders/batch", {
        method: "POST",
        key,
        body: "{",
        headers: { "content-type": "application/json" },
      });
      expect((await malformed.json()).code).toBe("invalid_json");
      const readOnly = await t.newKey((await t.newTenant()).tenantId, { scopes: ["orders:read"] });
      expect(
        (
          await t.request("/v1/orders/batch", {
            method: "POST",
            key: readOnly.apiKey,
            json: { orders: thousand.slice(0, 1) },
          })
        ).status,
      ).toBe(403);
    });
  });

  describe("CSV", () => {
    function postCsv(body: string, options: { query?: string; accept?: string } = {}) {
      return t.request(`/v1/imports/csv${options.query ?? ""}`, {
        method: "POST",
        key,
        body,
        headers: {
          "content-type": "text/csv; charset=utf-8",
          ...(options.accept ? { accept: options.accept } : {}),
        },
      });
    }

    it("imports the fixture: per-row results, then the orders field by field", async () => {
      const response = await postCsv(fixtureText("csv/orders.csv"));
      expect(response.status).toBe(200);
      const importId = response.headers.get("x-import-id");
      const body = await response.json();
      expect(body).toMatchObject({
        object: "import",
        id: importId,
        format: "csv",
        status: "completed",
        rows_processed: 3,
        created: 3,
        duplicate: 0,
        invalid: 0,
        error: null,
      });
      expect(body.results.map((r: Json) => [r.row, r.status, r.external_id])).toEqual([
        [2, "created", "ERP-2026-0001"],
        [3, "created", "ERP-2026-0002"],
        [4, "created", "ERP-2026-0003"],
      ]);
      const third = await (await t.request(`/v1/orders/${body.results[2].order_id}`, { key })).json();
      expect(third).toMatchObject({
        external_id: "ERP-2026-0003",
        recipient: {
          name: 'Dulces "La Abuela" Ltda.',
          phone: "+576043334455",
          email: "ventas@laabuela.example.com",
        },
        destination: {
          address_line1: "Calle 10 # 5-51",
          address_line2: "Bodega 2",
          city: "Medellín",
          region: "ANT",
          postal_code: "050010",
          country: "CO",
          latitude: 6.2442,
          longitude: -75.5812,
        },
        packages: [{ weight_kg: 4.667 }, { weight_kg: 4.667 }, { weight_kg: 4.667 }],
        cod_amount: null,
        currency: "COP",
        notes: "Tres cajas",
        metadata: { source: "csv" },
      });
      const second = await (await t.request(`/v1/orders/${body.results[1].order_id}`, { key })).json();
      expect(second).toMatchObject({
        recipient: { name: "Miguel Ángel Torres", phone: "+573004445566" },
        destination: {
          address_line1: "Carrera 50 # 20-15",
          city: "Barranquilla",
          region: "ATL",
          postal_code: "080020",
          country: "CO",
        },
        packages: [{ weight_kg: 0.8 }],
        cod_amount: 45000,
        currency: "COP",
        notes: "Pago contra entrega, llamar antes",
      });
      const { rows } = await t.services.db.query(
        "select actor from order_status_history where order_id = $1",
        [second.id],
      );
      expect(rows).toEqual([{ actor: "import:csv" }]);
      const record = await (await t.request(`/v1/imports/${importId}`, { key })).json();
      expect(record).toMatchObject({
        status: "completed",
        rows_processed: 3,
        created: 3,
        finished_at: expect.any(String),
      });

      const again = await (await postCsv(fixtureText("csv/orders.csv"))).json();
      expect(again).toMatchObject({ created: 0, duplicate: 3 });
    });

    it("reports bad rows with row and column, and keeps going", async () => {
      const csv = [
        csvHeaderLine,
        "E-1,Ana,+573001112233,,Calle 1,,Cali,,,CO,,,1,1,,,,,,",
        "E-2,Ana,,,Calle 1,,Cali,,,CO,,,1,1,,,,,,",
        "E-3,Ana,+573001112233,,Calle 1,,Cali,,,XX,,,1,1,,,,overnight,,",
        "E-4,Ana,+573001112233,,Calle 1,,Cali,,,COL,,,,2,,,,,,",
      ].join("\r\n");
      const body = await (await postCsv(csv, { query: "?default_weight_kg=3&service_level=express" })).json();
      expect(body).toMatchObject({ status: "completed", created: 2, invalid: 2 });
      expect(body.results[1]).toMatchObject({
        row: 3,
        status: "invalid",
        external_id: "E-2",
        errors: [
          { path: "row 3/recipient_phone", message: "recipient.phone is required: the cell is empty" },
        ],
      });
      expect(body.results[2].errors.map((e: Json) => e.path).sort()).toEqual([
        "row 4/country",
        "row 4/service_level",
      ]);
      expect(body.invalid_sample).toHaveLength(2);
      const defaulted = await t.services.db.query<Json>(
        "select packages, service_level, destination from orders where external_id = 'E-4'",
      );
      expect(defaulted.rows[0]).toMatchObject({
        packages: [{ weight_kg: 1.5 }, { weight_kg: 1.5 }],
        service_level: "express",
      });
    });

    it("refuses a file whose header is not the documented one, before creating anything", async () => {
      const response = await postCsv("external_id,name,phone\nX-1,Ana,+573001112233\n");
      expect(response.status).toBe(400);
      const problem = await response.json();
      expect(problem.code).toBe("validation_failed");
      expect(problem.errors).toContainEqual({
        path: "row 1/column 2",
        message: expect.stringContaining('unknown column "name"'),
      });
      expect(problem.errors).toContainEqual({
        path: "row 1",
        message: 'the required column "city" is missing',
      });
      expect(await countRows(t, "orders", "external_id = 'X-1'")).toBe(0);
      const json = await t.request("/v1/imports/csv", { method: "POST", key, json: { a: 1 } });
      expect(json.status).toBe(415);
    });

    it("streams NDJSON rows and progress; a file that breaks off ends as aborted, keeping what came before", async () => {
      const rows = Array.from(
        { length: 600 },
        (_, i) => `N-${i},Ana,+573001112233,,Calle ${i},,Cali,,,CO,,,1,1,,,,,,`,
      );
      const csv = `${csvHeaderLine}\n${rows.join("\n")}\nN-broken,"Ana,+573001112233\n`;
      const response = await postCsv(csv, { accept: "application/x-ndjson" });
      expect(response.headers.get("content-type")).toContain("application/x-ndjson");
      const lines = (await response.text())
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as Json);
      expect(lines[0]).toMatchObject({ type: "import", status: "running" });
      expect(lines.filter((line) => line.type === "row")).toHaveLength(600);
      expect(lines.filter((line) => line.type === "progress").map((line) => line.rows_processed)).toEqual([
        250, 500, 600,
      ]);
      expect(lines.at(-1)).toMatchObject({
        type: "import",
        status: "aborted",
        rows_processed: 600,
        created: 600,
        error: expect.stringContaining("malformed CSV"),
      });
      expect(await countRows(t, "orders", "external_id like 'N-%'")).toBe(600);
    });
  });

  describe("SAP IDoc and Dynamics", () => {
    it("imports the ORDERS05 fixture field by field", async () => {
      const response = await t.request("/v1/imports/sap-idoc", {
        method: "POST",
        key,
        body: fixtureText("sap/orders05-idoc.xml"),
        headers: { "content-type": "application/xml" },
      });
      expect(response.status).toBe(200);
      const body = await response.json();
      expect(body).toMatchObject({
        format: "sap_idoc",
        status: "completed",
        created: 1,
        results: [{ index: 0, status: "created", external_id: "4500012345" }],
      });
      const order = await (await t.request(`/v1/orders/${body.results[0].order_id}`, { key })).json();
      expect(order).toMatchObject({
        external_id: "4500012345",
        recipient: { name: "Bodega Norte Distribuidora Andina", phone: "6018765432" },
        destination: {
          address_line1: "Autopista Norte Km 19 Bodega 4",
          city: "Chía",
          region: "25",
          postal_code: "250001",
          country: "CO",
        },
        packages: [
          { weight_kg: 25.5, description: "12 × MAT-ACEITE-1L" },
          { weight_kg: 3.6, description: "6 × MAT-SAL-500G" },
        ],
        currency: "COP",
        metadata: {
          source: "sap_idoc",
          customer_po: "PO-2026-11-0098",
          idoc_number: "0000000004711001",
          sold_to: "0000100234",
          ship_to: "0000100777",
        },
      });
      const resent = await t.request("/v1/imports/sap-idoc", {
        method: "POST",
        key,
        body: fixtureText("sap/orders05-idoc.xml").replace("0000000004711001", "0000000004711002"),
        headers: { "content-type": "text/xml" },
      });
      expect((await resent.json()).results[0]).toMatchObject({ status: "duplicate", order_id: order.id });
    });

    it("refuses XML that is not an IDoc with where it broke", async () => {
      const response = await t.request("/v1/imports/sap-idoc", {
        method: "POST",
        key,
        body: "<ORDERS05>\n<IDOC>\n</ORDERS05>",
        headers: { "content-type": "application/xml" },
      });
      expect(response.status).toBe(400);
      expect((await response.json()).errors[0]).toMatchObject({
        path: expect.stringMatching(/^line \d+, column \d+$/),
      });
    });

    it("imports the Business Central salesOrder, and OData collections item by item", async () => {
      const fixture = JSON.parse(fixtureText("dynamics/business-central-sales-order.json")) as Json;
      const response = await t.request("/v1/imports/dynamics", { method: "POST", key, json: fixture });
      const body = await response.json();
      expect(body).toMatchObject({ format: "dynamics", status: "completed", created: 1 });
      const order = await (await t.request(`/v1/orders/${body.results[0].order_id}`, { key })).json();
      expect(order).toMatchObject({
        external_id: "S-ORD101045",
        recipient: {
          name: "Ferretería El Tornillo - Sede Sur",
          phone: "+576014567890",
          email: "compras@eltornillo.example.com",
        },
        destination: {
          address_line1: "Calle 13 Sur # 45-10",
          address_line2: "Local 3",
          city: "Bogotá",
          region: "DC",
          postal_code: "111611",
          country: "CO",
        },
        packages: [
          { weight_kg: 16, description: "20 × Tornillo hexagonal caja x100" },
          { weight_kg: 4.8, description: "2 × Taladro percutor 13 mm" },
        ],
        currency: "COP",
        notes: "Attn: Marta Pardo",
        metadata: { source: "dynamics_bc", external_document_number: "EXT-88123", customer_number: "C00010" },
      });

      const second = { ...fixture, number: "S-ORD101046", shipToCity: "" };
      const collection = await (
        await t.request("/v1/imports/dynamics", {
          method: "POST",
          key,
          json: { value: [fixture, second] },
        })
      ).json();
      expect(collection.results).toEqual([
        { index: 0, status: "duplicate", external_id: "S-ORD101045", order_id: order.id },
        {
          index: 1,
          status: "invalid",
          external_id: "S-ORD101046",
          errors: [
            { path: "/value/1/shipToCity", message: "destination.city is required: shipToCity is empty" },
          ],
        },
      ]);
    });
  });
});
