import { generateKeyPairSync, sign } from "node:crypto";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { alpha2Codes, alpha3ToAlpha2, toAlpha2 } from "../../src/domain/connectors/countries.ts";
import { csvHeaderLine, mapCsvRow, openCsvImport, readCsvHeader } from "../../src/domain/connectors/csv.ts";
import { dynamicsSalesOrders, mapDynamicsSalesOrder } from "../../src/domain/connectors/dynamics.ts";
import { magentoOrderEntity, mapMagentoOrder } from "../../src/domain/connectors/magento.ts";
import type { MapOutcome } from "../../src/domain/connectors/mapping.ts";
import { mapIdoc, parseIdocXml } from "../../src/domain/connectors/sap-idoc.ts";
import { createKeyring, open, parseKey, seal } from "../../src/domain/connectors/secret-box.ts";
import { mapShopifyOrder } from "../../src/domain/connectors/shopify.ts";
import {
  tokensEqual,
  verifyAdobeCommerceSignature,
  verifyHmacSha256Base64,
} from "../../src/domain/connectors/signatures.ts";
import { mapVtexOrder, parseVtexHook } from "../../src/domain/connectors/vtex.ts";
import { mapWooCommerceOrder } from "../../src/domain/connectors/woocommerce.ts";
import { fixtureJson, fixtureText, hmacBase64 } from "./support.ts";

function orderOf(outcome: MapOutcome) {
  if (outcome.kind !== "order") throw new Error(`expected an order, got ${JSON.stringify(outcome)}`);
  return outcome.input;
}

function errorsOf(outcome: MapOutcome) {
  if (outcome.kind !== "invalid") throw new Error(`expected errors, got ${JSON.stringify(outcome)}`);
  return outcome.errors;
}

type Json = Record<string, unknown>;
const clone = <T>(value: T): T => structuredClone(value);

describe("countries", () => {
  it("knows every ISO 3166-1 code once", () => {
    expect(alpha3ToAlpha2.size).toBe(249);
    expect(alpha2Codes.size).toBe(249);
  });
  it("turns alpha-3 into alpha-2 and keeps alpha-2", () => {
    expect(toAlpha2("COL")).toEqual({ ok: true, code: "CO" });
    expect(toAlpha2(" mex ")).toEqual({ ok: true, code: "MX" });
    expect(toAlpha2("BRA")).toEqual({ ok: true, code: "BR" });
    expect(toAlpha2("co")).toEqual({ ok: true, code: "CO" });
    expect(toAlpha2("XYZ").ok).toBe(false);
    expect(toAlpha2("Colombia").ok).toBe(false);
  });
});

describe("signatures", () => {
  const body = Buffer.from('{"id":1}');
  it("accepts the base64 HMAC-SHA256 of the exact bytes and nothing else", () => {
    const signature = hmacBase64("s3cret-key", body);
    expect(verifyHmacSha256Base64("s3cret-key", body, signature)).toBe(true);
    expect(verifyHmacSha256Base64("s3cret-key", Buffer.from('{"id": 1}'), signature)).toBe(false);
    expect(verifyHmacSha256Base64("another-key", body, signature)).toBe(false);
    expect(verifyHmacSha256Base64("s3cret-key", body, undefined)).toBe(false);
    expect(verifyHmacSha256Base64("s3cret-key", body, "")).toBe(false);
    expect(verifyHmacSha256Base64("s3cret-key", body, signature.slice(0, 20))).toBe(false);
    expect(verifyHmacSha256Base64("s3cret-key", body, "not base64 !!")).toBe(false);
    const flipped = Buffer.from(signature, "base64");
    flipped[0]! ^= 1;
    expect(verifyHmacSha256Base64("s3cret-key", body, flipped.toString("base64"))).toBe(false);
  });
  it("compares hook tokens whatever their length", () => {
    expect(tokensEqual("cvh_abc", "cvh_abc")).toBe(true);
    expect(tokensEqual("cvh_abc", "cvh_abd")).toBe(false);
    expect(tokensEqual("cvh_abc", "cvh_abcdef")).toBe(false);
    expect(tokensEqual("cvh_abc", undefined)).toBe(false);
  });
  it("verifies Adobe Commerce RSA signatures over the base64 body", () => {
    const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const pem = publicKey.export({ type: "spki", format: "pem" }).toString();
    const signature = sign("sha256", Buffer.from(body.toString("base64")), privateKey).toString("base64");
    expect(verifyAdobeCommerceSignature(pem, body, signature)).toBe(true);
    expect(verifyAdobeCommerceSignature(pem, Buffer.from('{"id":2}'), signature)).toBe(false);
    expect(verifyAdobeCommerceSignature(pem, body, undefined)).toBe(false);
  });
});

describe("secret box", () => {
  const key = Buffer.alloc(32, 1);
  it("seals with AES-256-GCM, bound to its connector", () => {
    const keyring = createKeyring(key);
    const sealed = seal(keyring, '{"webhook_secret":"abc"}', "connector:1");
    expect(sealed).toMatch(/^v1\.[0-9a-f]{12}\./);
    expect(sealed).not.toContain("abc");
    expect(open(keyring, sealed, "connector:1")).toBe('{"webhook_secret":"abc"}');
    expect(() => open(keyring, sealed, "connector:2")).toThrow(/does not authenticate/);
    const parts = sealed.split(".");
    const data = Buffer.from(parts[3]!, "base64url");
    data[0]! ^= 1;
    expect(() =>
      open(keyring, [...parts.slice(0, 3), data.toString("base64url")].join("."), "connector:1"),
    ).toThrow();
  });
  it("opens values sealed with a previous key after a rotation, and says which key is missing", () => {
    const old = createKeyring(key);
    const sealed = seal(old, "x", "a");
    const rotated = createKeyring(Buffer.alloc(32, 2), [key]);
    expect(open(rotated, sealed, "a")).toBe("x");
    expect(seal(rotated, "y", "a").split(".")[1]).toBe(rotated.currentId);
    expect(() => open(createKeyring(Buffer.alloc(32, 2)), sealed, "a")).toThrow(
      /CONNECTOR_ENCRYPTION_PREVIOUS_KEYS/,
    );
  });
  it("parses keys in hex and base64 only when they are 32 bytes", () => {
    expect(parseKey("ab".repeat(32))?.length).toBe(32);
    expect(parseKey(Buffer.alloc(32, 3).toString("base64"))?.length).toBe(32);
    expect(parseKey("short")).toBeNull();
    expect(parseKey(Buffer.alloc(16).toString("base64"))).toBeNull();
  });
});

describe("Shopify mapper", () => {
  const fixture = fixtureJson<Json>("shopify/orders-create.json");
  const options = { externalIdPrefix: "shopify:", defaults: {}, connectorId: "c1" };

  it("maps the orders/create fixture field by field", () => {
    expect(orderOf(mapShopifyOrder(fixture, options))).toEqual({
      external_id: "shopify:5861234567890",
      recipient: { name: "Laura Gómez", phone: "+573001234567", email: "laura.gomez@example.com" },
      destination: {
        address_line1: "Calle 100 # 15-20",
        address_line2: "Apto 502",
        city: "Bogotá",
        region: "Bogotá, D.C.",
        postal_code: "110111",
        country: "CO",
        latitude: 4.6867,
        longitude: -74.0483,
      },
      // 1 × 1450 g + 2 × 200 g, in one package worth the shipped lines.
      packages: [
        { weight_kg: 1.85, description: "Cafetera de goteo, 2 × Café molido 200 g", declared_value: 189900 },
      ],
      currency: "COP",
      notes: "Entregar en portería",
      metadata: {
        source: "shopify",
        platform_order_id: "5861234567890",
        order_number: "#1042",
        connector_id: "c1",
      },
    });
  });

  it("makes one package per line when the connector says so", () => {
    const input = orderOf(mapShopifyOrder(fixture, { ...options, defaults: { packaging: "per_line" } }));
    expect(input.packages).toEqual([
      { weight_kg: 1.45, description: "Cafetera de goteo", declared_value: 149900 },
      { weight_kg: 0.4, description: "2 × Café molido 200 g", declared_value: 40000 },
    ]);
  });

  it("leaves coordinates out when Shopify sends null", () => {
    const order = clone(fixture);
    (order.shipping_address as Json).latitude = null;
    (order.shipping_address as Json).longitude = null;
    const input = orderOf(mapShopifyOrder(order, options));
    expect(input.destination.latitude).toBeUndefined();
    expect(input.destination.longitude).toBeUndefined();
  });

  it("takes the order phone when the address has none", () => {
    const order = clone(fixture);
    (order.shipping_address as Json).phone = null;
    order.phone = "+573009998877";
    expect(orderOf(mapShopifyOrder(order, options)).recipient.phone).toBe("+573009998877");
  });

  it("skips an order with nothing to ship, saying why", () => {
    const digital = clone(fixture);
    for (const item of digital.line_items as Json[]) item.requires_shipping = false;
    expect(mapShopifyOrder(digital, options)).toEqual({
      kind: "skip",
      reason: "nothing to ship: no line item requires shipping",
      reference: "5861234567890",
    });
    const pickup = clone(fixture);
    delete pickup.shipping_address;
    expect(mapShopifyOrder(pickup, options).kind).toBe("skip");
  });

  it("collects cash on delivery for an unpaid COD order", () => {
    const order = {
      ...clone(fixture),
      financial_status: "pending",
      payment_gateway_names: ["Cash on Delivery (COD)"],
    };
    const input = orderOf(mapShopifyOrder(order, options));
    expect(input.cod_amount).toBe(189900);
    expect(input.currency).toBe("COP");
  });

  it("names every missing field where Shopify has it", () => {
    const order = clone(fixture);
    const address = order.shipping_address as Json;
    address.phone = null;
    order.phone = null;
    (order.customer as Json).phone = null;
    address.city = "";
    address.country_code = "ZZ";
    for (const item of order.line_items as Json[]) item.grams = 0;
    const errors = errorsOf(mapShopifyOrder(order, options));
    expect(errors.map((error) => error.path).sort()).toEqual([
      "/line_items",
      "/shipping_address/city",
      "/shipping_address/country_code",
      "/shipping_address/phone",
    ]);
    expect(errors.find((error) => error.path === "/shipping_address/phone")?.message).toMatch(
      /recipient\.phone is required/,
    );
    // With a default weight the weightless items ship.
    const withDefault = mapShopifyOrder(order, { ...options, defaults: { packageWeightKg: 2 } });
    expect(errorsOf(withDefault).map((error) => error.path)).not.toContain("/line_items");
  });
});

describe("WooCommerce mapper", () => {
  const fixture = fixtureJson<Json>("woocommerce/order-created.json");
  const options = { externalIdPrefix: "woo:", defaults: { packageWeightKg: 0.8 }, statuses: ["processing"] };

  it("maps the order.created fixture field by field, with the default weight", () => {
    expect(orderOf(mapWooCommerceOrder(fixture, options))).toEqual({
      external_id: "woo:7315",
      recipient: { name: "Andrés Peñalosa", phone: "3109876543", email: "andres.penalosa@example.com" },
      destination: {
        address_line1: "Carrera 43A # 1-50",
        address_line2: "Torre 2",
        city: "Medellín",
        region: "ANT",
        postal_code: "050021",
        country: "CO",
      },
      packages: [{ weight_kg: 0.8, description: "Morral impermeable", declared_value: 84500 }],
      currency: "COP",
      notes: "Llamar antes de llegar",
      metadata: { source: "woocommerce", platform_order_id: "7315", order_number: "7315" },
    });
  });

  it("needs a default weight, and says so at the line", () => {
    const errors = errorsOf(mapWooCommerceOrder(fixture, { ...options, defaults: {} }));
    expect(errors).toEqual([
      {
        path: "/line_items/0",
        message: expect.stringMatching(/packages\.0\.weight_kg is required.*package_weight_kg/),
      },
    ]);
  });

  it("skips a status the connector does not ship", () => {
    expect(mapWooCommerceOrder({ ...fixture, status: "pending" }, options)).toMatchObject({
      kind: "skip",
      reference: "7315",
    });
  });

  it("ships to the billing address when the shipping block is empty", () => {
    const order = clone(fixture);
    order.shipping = { first_name: "", last_name: "", address_1: "", city: "", country: "" };
    order.billing = {
      ...(order.billing as Json),
      address_1: "Calle 1 # 2-3",
      city: "Envigado",
      country: "CO",
    };
    const input = orderOf(mapWooCommerceOrder(order, options));
    expect(input.destination).toMatchObject({
      address_line1: "Calle 1 # 2-3",
      city: "Envigado",
      country: "CO",
    });
  });

  it("collects cash on delivery", () => {
    const input = orderOf(mapWooCommerceOrder({ ...fixture, payment_method: "cod" }, options));
    expect(input.cod_amount).toBe(84500);
  });
});

describe("VTEX", () => {
  const order = fixtureJson<Json>("vtex/oms-order.json");
  it("reads the hook and the ping", () => {
    expect(parseVtexHook({ hookConfig: "ping" })).toEqual({ kind: "ping" });
    expect(parseVtexHook(fixtureJson("vtex/hook-ready-for-handling.json"))).toEqual({
      kind: "order",
      orderId: "1389581234567-01",
      state: "ready-for-handling",
      account: "tiendacafe",
      currentChange: "2026-11-22T16:41:02.7654321Z",
    });
    expect(parseVtexHook({ State: "x" })).toEqual({
      kind: "invalid",
      errors: [
        { path: "/OrderId", message: "OrderId is required" },
        { path: "/Origin/Account", message: "Origin.Account is required" },
      ],
    });
  });

  it("maps the OMS order: COL -> CO, [lng, lat], grams, cents", () => {
    expect(orderOf(mapVtexOrder(order, { externalIdPrefix: "vtex:", defaults: {} }))).toEqual({
      external_id: "vtex:1389581234567-01",
      recipient: { name: "Camila Ríos", phone: "+573157654321", email: "camila.rios@example.com" },
      destination: {
        address_line1: "Avenida 6 Norte 23-45",
        address_line2: "Casa 3, Granada",
        city: "Cali",
        region: "Valle del Cauca",
        postal_code: "760042",
        country: "CO",
        latitude: 3.4629,
        longitude: -76.5322,
      },
      packages: [
        {
          weight_kg: 1.2,
          length_cm: 20,
          width_cm: 15,
          height_cm: 45,
          description: "Lámpara LED de escritorio",
          declared_value: 239900,
        },
      ],
      notes: "Frente al parque",
      metadata: { source: "vtex", platform_order_id: "1389581234567-01", order_number: "502345" },
    });
  });

  it("reports an unknown country at its VTEX path", () => {
    const broken = clone(order);
    ((broken.shippingData as Json).address as Json).country = "XXX";
    expect(errorsOf(mapVtexOrder(broken, { externalIdPrefix: "", defaults: {} }))).toEqual([
      { path: "/shippingData/address/country", message: expect.stringContaining("destination.country") },
    ]);
  });

  it("skips an order picked up in store", () => {
    const pickup = clone(order);
    ((pickup.shippingData as Json).logisticsInfo as Json[])[0]!.deliveryChannel = "pickup-in-point";
    expect(mapVtexOrder(pickup, { externalIdPrefix: "", defaults: {} }).kind).toBe("skip");
  });
});

describe("Magento mapper", () => {
  const entity = fixtureJson<Json>("magento/order.json");
  const options = { externalIdPrefix: "magento:", defaults: {}, weightUnit: "kgs" as const };
  const expected = {
    external_id: "magento:4521",
    recipient: { name: "Julián Mora", phone: "6013456789", email: "julian.mora@example.com" },
    destination: {
      address_line1: "Carrera 7 # 32-16",
      address_line2: "Oficina 801",
      city: "Bogotá",
      region: "Bogotá D.C.",
      postal_code: "110311",
      country: "CO",
    },
    packages: [
      { weight_kg: 3.2, description: "2 × Tabla de madera, Juego de cuchillos", declared_value: 312000 },
    ],
    currency: "COP",
    metadata: { source: "magento", platform_order_id: "4521", order_number: "000004521" },
  };

  it("maps the order entity field by field, bare or wrapped by a webhook", () => {
    expect(orderOf(mapMagentoOrder(entity, options))).toEqual(expected);
    expect(orderOf(mapMagentoOrder({ data: { order: entity } }, options))).toEqual(expected);
    expect(magentoOrderEntity({ data: { order: entity } })?.base).toBe("/data/order");
  });

  it("converts pounds and points errors into the wrapped entity", () => {
    expect(orderOf(mapMagentoOrder(entity, { ...options, weightUnit: "lbs" })).packages[0]!.weight_kg).toBe(
      1.451,
    );
    const broken = clone(entity);
    const address = ((broken.extension_attributes as Json).shipping_assignments as Json[])[0]!
      .shipping as Json;
    (address.address as Json).telephone = "";
    expect(errorsOf(mapMagentoOrder({ data: { order: broken } }, options))).toEqual([
      {
        path: "/data/order/extension_attributes/shipping_assignments/0/shipping/address/telephone",
        message: expect.stringContaining("recipient.phone is required"),
      },
    ]);
  });

  it("skips virtual and canceled orders", () => {
    expect(mapMagentoOrder({ ...entity, is_virtual: 1 }, options).kind).toBe("skip");
    expect(mapMagentoOrder({ ...entity, state: "canceled" }, options).kind).toBe("skip");
  });
});

describe("SAP IDoc ORDERS05", () => {
  it("maps the fixture: ship-to WE, items E1EDP01, customer PO, KGM", () => {
    const parsed = parseIdocXml(fixtureText("sap/orders05-idoc.xml"));
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
    expect(parsed.idocs).toHaveLength(1);
    expect(orderOf(mapIdoc(parsed.idocs[0]!, 0, { defaults: {} }))).toEqual({
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
  });

  it("converts grams and names the IDoc, segment and field of each problem", () => {
    const xml = fixtureText("sap/orders05-idoc.xml")
      .replace(
        "<BRGEW>3.6</BRGEW>\n      <GEWEI>KGM</GEWEI>",
        "<BRGEW>3600</BRGEW>\n      <GEWEI>GRM</GEWEI>",
      )
      .replace("<ORT01>Chía</ORT01>", "")
      .replace(
        "<BRGEW>25.5</BRGEW>\n      <GEWEI>KGM</GEWEI>",
        "<BRGEW>25.5</BRGEW>\n      <GEWEI>XYZ</GEWEI>",
      );
    const parsed = parseIdocXml(xml);
    if (!parsed.ok) throw new Error("parse failed");
    expect(errorsOf(mapIdoc(parsed.idocs[0]!, 0, { defaults: {} }))).toEqual([
      { path: "IDOC 1/E1EDKA1[PARVW=WE]/ORT01", message: "destination.city is required: ORT01 is empty" },
      { path: "IDOC 1/E1EDP01[POSEX=000010]/GEWEI", message: expect.stringContaining('"XYZ"') },
    ]);
    const grams = parseIdocXml(
      fixtureText("sap/orders05-idoc.xml").replace(
        "<BRGEW>3.6</BRGEW>\n      <GEWEI>KGM</GEWEI>",
        "<BRGEW>3600</BRGEW>\n      <GEWEI>GRM</GEWEI>",
      ),
    );
    if (!grams.ok) throw new Error("parse failed");
    expect(orderOf(mapIdoc(grams.idocs[0]!, 0, { defaults: {} })).packages[1]!.weight_kg).toBe(3.6);
  });

  it("refuses XML that is not well formed, DTDs, and documents without IDOC", () => {
    expect(parseIdocXml("<ORDERS05><IDOC>")).toMatchObject({
      ok: false,
      errors: [{ message: expect.stringMatching(/not well-formed/) }],
    });
    expect(parseIdocXml('<!DOCTYPE x [<!ENTITY a "b">]><ORDERS05/>')).toMatchObject({ ok: false });
    expect(parseIdocXml("<ORDERS05></ORDERS05>")).toMatchObject({
      ok: false,
      errors: [{ message: expect.stringMatching(/no IDOC/) }],
    });
  });
});

describe("Dynamics 365 Business Central mapper", () => {
  const order = fixtureJson<Json>("dynamics/business-central-sales-order.json");
  it("maps the salesOrder with its lines field by field", () => {
    expect(orderOf(mapDynamicsSalesOrder(order, "", { defaults: {} }))).toEqual({
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
      // netWeight is per unit: 20 × 0.8 kg and 2 × 2.4 kg.
      packages: [
        { weight_kg: 16, description: "20 × Tornillo hexagonal caja x100" },
        { weight_kg: 4.8, description: "2 × Taladro percutor 13 mm" },
      ],
      currency: "COP",
      notes: "Attn: Marta Pardo",
      metadata: {
        source: "dynamics_bc",
        external_document_number: "EXT-88123",
        customer_number: "C00010",
        requested_delivery_date: "2026-11-27",
        dynamics_id: "5d115c9c-44e3-ea11-bb43-000d3a2feca1",
      },
    });
  });

  it("reads OData collections and names the line of a problem", () => {
    const second = clone(order);
    (second.salesOrderLines as Json[])[1]!.netWeight = 0;
    delete second.phoneNumber;
    const orders = dynamicsSalesOrders({ value: [order, second] });
    expect(orders?.map((entry) => entry.base)).toEqual(["/value/0", "/value/1"]);
    const errors = errorsOf(mapDynamicsSalesOrder(orders![1]!.order, orders![1]!.base, { defaults: {} }));
    expect(errors.map((error) => error.path)).toEqual([
      "/value/1/phoneNumber",
      "/value/1/salesOrderLines/1/netWeight",
    ]);
  });
});

describe("CSV", () => {
  const text = fixtureText("csv/orders.csv");

  async function rowsOf(csv: string, defaults = {}) {
    const opening = await openCsvImport(
      Readable.toWeb(Readable.from([Buffer.from(csv)])) as ReadableStream<Uint8Array>,
      defaults,
    );
    if (!opening.ok) return { header: opening.errors, rows: [] };
    const rows = [];
    for await (const row of opening.rows) rows.push(row);
    return { header: null, rows };
  }

  it("maps the fixture: quoted commas, doubled quotes, empty cells, total weight over packages", async () => {
    const { header, rows } = await rowsOf(text);
    expect(header).toBeNull();
    expect(rows.map((row) => row.row)).toEqual([2, 3, 4]);
    expect(rows.map((row) => orderOf(row.outcome))).toEqual([
      {
        external_id: "ERP-2026-0001",
        recipient: { name: "Sofía Castaño", phone: "+573001112233", email: "sofia.castano@example.com" },
        destination: {
          address_line1: "Calle 72 # 10-34",
          address_line2: "Piso 3",
          city: "Bogotá",
          region: "DC",
          postal_code: "110231",
          country: "CO",
          latitude: 4.658,
          longitude: -74.056,
        },
        packages: [{ weight_kg: 2.5 }],
        currency: "COP",
        metadata: { source: "csv" },
      },
      {
        external_id: "ERP-2026-0002",
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
        metadata: { source: "csv" },
      },
      {
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
        currency: "COP",
        notes: "Tres cajas",
        metadata: { source: "csv" },
      },
    ]);
  });

  it("validates the header: unknown, repeated and missing columns", () => {
    const result = readCsvHeader(["external_id", "recipient_nmae", "city", "city"], {});
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toContainEqual({
      path: "row 1/column 2",
      message: expect.stringContaining('unknown column "recipient_nmae"'),
    });
    expect(result.errors).toContainEqual({ path: "row 1/column 4", message: 'column "city" appears twice' });
    expect(result.errors).toContainEqual({
      path: "row 1",
      message: 'the required column "recipient_phone" is missing',
    });
    expect(readCsvHeader(csvHeaderLine.split(","), {}).ok).toBe(true);
  });

  it("names the row and column of every problem", async () => {
    const csv = `${text.split("\n")[0]}\nERP-9,Ana,,,Calle 1,,Cali,,,COL,4.1,,abc,2,,,\nERP-10,Ana,+573001112233,,Calle 1,,Cali\nERP-11,Ana,+573001112233,,Calle 1,,Cali,,,CO,,,1,0,,,\n`;
    const { rows } = await rowsOf(csv);
    expect(errorsOf(rows[0]!.outcome)).toEqual([
      { path: "row 2/recipient_phone", message: "recipient.phone is required: the cell is empty" },
      { path: "row 2/weight_kg", message: 'weight_kg must be a number, got "abc"' },
      {
        path: "row 2/latitude",
        message: "destination.latitude: latitude and longitude go together: give both or neither",
      },
    ]);
    expect(errorsOf(rows[2]!.outcome)).toEqual([
      { path: "row 4/packages", message: 'packages must be a whole number from 1 to 50, got "0"' },
    ]);
    expect(errorsOf(rows[1]!.outcome)).toEqual([
      { path: "row 3", message: "the row has 7 fields and the header has 17" },
    ]);
  });

  it("reports the header of an empty file", async () => {
    expect((await rowsOf("")).header).toEqual([{ path: "row 1", message: expect.stringContaining("empty") }]);
  });

  it("maps rows straight from a header index", () => {
    const header = readCsvHeader(
      ["external_id", "recipient_name", "recipient_phone", "address_line1", "city", "country"],
      { packageWeightKg: 1 },
    );
    if (!header.ok) throw new Error("header");
    const input = orderOf(
      mapCsvRow(["A-1", "Ana", "+573001112233", "Calle 1", "Cali", "col"], header.header, 2, {
        packageWeightKg: 1,
        serviceLevel: "express",
      }),
    );
    expect(input).toMatchObject({
      destination: { country: "CO" },
      packages: [{ weight_kg: 1 }],
      service_level: "express",
    });
  });
});
