import {
  addPackages,
  applyDefaults,
  arrayAt,
  firstText,
  isObject,
  joinText,
  type MapOutcome,
  type MappingDefaults,
  numberOf,
  OrderDraft,
  objectAt,
  type ShipLine,
  textAt,
  textOf,
} from "./mapping.ts";

/**
 * Shopify `orders/create` webhook body -> order input.
 *
 * - external_id: prefix + the order's `id` (immutable and unique across Shopify); the shop's order name (`#1042`)
 *   is kept in metadata as `order_number`.
 * - Ships `line_items` with `requires_shipping` and a fulfillable quantity; `grams` is per unit.
 * - No shipping address, or no line that needs shipping (digital goods, pickup): acknowledged and skipped.
 * - Cash on delivery (the manual "Cash on Delivery (COD)" gateway with the order not yet paid) sets `cod_amount`.
 */
export interface ShopifyMappingOptions {
  externalIdPrefix: string;
  defaults: MappingDefaults;
  connectorId?: string | undefined;
}

const codGateway = /cash on delivery|\bcod\b|contra ?entrega|contraentrega|pago al recibir/i;

export function mapShopifyOrder(payload: unknown, options: ShopifyMappingOptions): MapOutcome {
  const draft = new OrderDraft();
  if (!isObject(payload)) {
    return { kind: "invalid", errors: [{ path: "/", message: "the body must be a Shopify order object" }] };
  }
  const id = textOf(payload.id);
  if (!id)
    return {
      kind: "invalid",
      errors: [{ path: "/id", message: "external_id is required: the order has no id" }],
    };
  const reference = id;
  if (textOf(payload.cancelled_at)) return { kind: "skip", reason: "the order is cancelled", reference };

  const lines: ShipLine[] = [];
  (arrayAt(payload, "line_items") ?? []).forEach((item, index) => {
    if (!isObject(item) || item.requires_shipping === false) return;
    const source = `/line_items/${index}`;
    const fulfillable = numberOf(item.fulfillable_quantity);
    const ordered = draft.number(item.quantity, `${source}/quantity`, "quantity") ?? 0;
    const quantity = fulfillable !== undefined && !Number.isNaN(fulfillable) ? fulfillable : ordered;
    if (quantity <= 0) return;
    const grams = draft.number(item.grams, `${source}/grams`, "grams");
    const price = draft.number(item.price, `${source}/price`, "price");
    lines.push({
      source,
      name: textOf(item.title) ?? textOf(item.name) ?? textOf(item.sku) ?? `line ${index + 1}`,
      quantity,
      weightKg: grams !== undefined ? (grams * quantity) / 1000 : undefined,
      weightSource: `${source}/grams`,
      value: price !== undefined ? price * quantity : undefined,
    });
  });
  const address = objectAt(payload, "shipping_address");
  if (!address)
    return {
      kind: "skip",
      reason: "nothing to ship: the order has no shipping_address (pickup or digital)",
      reference,
    };
  if (lines.length === 0)
    return { kind: "skip", reason: "nothing to ship: no line item requires shipping", reference };

  draft.set("/external_id", `${options.externalIdPrefix}${id}`, "/id");
  const customer = objectAt(payload, "customer");
  const billing = objectAt(payload, "billing_address");
  draft.requireText(
    "/recipient/name",
    firstText([
      [textAt(address, "name"), "/shipping_address/name"],
      [
        joinText([textAt(address, "first_name"), textAt(address, "last_name")]),
        "/shipping_address/first_name",
      ],
      [joinText([textAt(customer, "first_name"), textAt(customer, "last_name")]), "/customer/first_name"],
    ]),
    "shipping_address.name, first_name/last_name and the customer's name are all empty",
    "/shipping_address/name",
  );
  draft.requireText(
    "/recipient/phone",
    firstText([
      [textAt(address, "phone"), "/shipping_address/phone"],
      [textAt(payload, "phone"), "/phone"],
      [textAt(customer, "phone"), "/customer/phone"],
      [textAt(billing, "phone"), "/billing_address/phone"],
    ]),
    "none of shipping_address.phone, phone, customer.phone or billing_address.phone is set (make the phone required at checkout)",
    "/shipping_address/phone",
  );
  const email = firstText([
    [textAt(payload, "email"), "/email"],
    [textAt(payload, "contact_email"), "/contact_email"],
    [textAt(customer, "email"), "/customer/email"],
  ]);
  if (email) draft.set("/recipient/email", email.value, email.source);

  draft.requireText(
    "/destination/address_line1",
    firstText([[textAt(address, "address1"), "/shipping_address/address1"]]),
    "shipping_address.address1 is empty",
    "/shipping_address/address1",
  );
  const line2 = joinText([textAt(address, "address2"), textAt(address, "company")], ", ");
  draft.set("/destination/address_line2", line2, "/shipping_address/address2");
  draft.requireText(
    "/destination/city",
    firstText([[textAt(address, "city"), "/shipping_address/city"]]),
    "shipping_address.city is empty",
    "/shipping_address/city",
  );
  const region = firstText([
    [textAt(address, "province"), "/shipping_address/province"],
    [textAt(address, "province_code"), "/shipping_address/province_code"],
  ]);
  if (region) draft.set("/destination/region", region.value, region.source);
  draft.set("/destination/postal_code", textAt(address, "zip"), "/shipping_address/zip");
  draft.country("/destination/country", textAt(address, "country_code"), "/shipping_address/country_code");
  const latitude = draft.number(address.latitude, "/shipping_address/latitude", "latitude");
  const longitude = draft.number(address.longitude, "/shipping_address/longitude", "longitude");
  // Shopify geocodes most addresses but sends null for the rest: coordinates go in only as a pair.
  if (latitude !== undefined && longitude !== undefined) {
    draft.set("/destination/latitude", latitude, "/shipping_address/latitude");
    draft.set("/destination/longitude", longitude, "/shipping_address/longitude");
  }

  addPackages(draft, lines, options.defaults, {
    packaging: options.defaults.packaging ?? "single",
    linesSource: "/line_items",
  });

  const currency = textAt(payload, "currency");
  const gateways = (arrayAt(payload, "payment_gateway_names") ?? []).map((name) => textOf(name) ?? "");
  const financial = textAt(payload, "financial_status");
  const unpaid = financial === "pending" || financial === "partially_paid" || financial === "authorized";
  if (unpaid && gateways.some((name) => codGateway.test(name))) {
    const outstanding = draft.number(payload.total_outstanding, "/total_outstanding", "total_outstanding");
    const total = draft.number(payload.total_price, "/total_price", "total_price");
    const amount = outstanding ?? total;
    if (amount !== undefined)
      draft.set("/cod_amount", amount, outstanding !== undefined ? "/total_outstanding" : "/total_price");
  }
  draft.set("/currency", currency, "/currency");
  draft.set("/notes", textAt(payload, "note")?.slice(0, 1000), "/note");
  applyDefaults(draft, options.defaults, "/");
  draft.metadata("source", "shopify", "/");
  draft.metadata("platform_order_id", id, "/id");
  draft.metadata("order_number", textAt(payload, "name"), "/name");
  draft.metadata("connector_id", options.connectorId, "/");
  return draft.finish(reference);
}
