import {
  addPackages,
  applyDefaults,
  arrayAt,
  firstText,
  isObject,
  type JsonObject,
  joinText,
  type MapOutcome,
  type MappingDefaults,
  OrderDraft,
  objectAt,
  type ShipLine,
  textAt,
  textOf,
} from "./mapping.ts";

/**
 * WooCommerce `order.created` / `order.updated` webhook body (the REST API v3 order) -> order input.
 *
 * - external_id: prefix + the order's `id` (the post id, immutable); `number` (which plugins may renumber) is kept
 *   in metadata as `order_number`.
 * - Only orders whose status is in the connector's `statuses` (default `processing`: paid, or cash on delivery) are
 *   created; others are skipped visibly. Subscribe to `order.updated` too and a `pending` order is created once it
 *   is paid: the external_id makes the second notification a duplicate, never a second order.
 * - WooCommerce sends no weights: the connector's default package weight applies.
 * - An order shipped to the billing address has an empty `shipping` block: the billing address is used then, as
 *   WooCommerce itself does. No address and no shipping line means nothing to ship (virtual or local pickup).
 */
export interface WooCommerceMappingOptions {
  externalIdPrefix: string;
  defaults: MappingDefaults;
  statuses: string[];
  connectorId?: string | undefined;
}

export function mapWooCommerceOrder(payload: unknown, options: WooCommerceMappingOptions): MapOutcome {
  const draft = new OrderDraft();
  if (!isObject(payload)) {
    return {
      kind: "invalid",
      errors: [{ path: "/", message: "the body must be a WooCommerce order object" }],
    };
  }
  const id = textOf(payload.id);
  if (!id)
    return {
      kind: "invalid",
      errors: [{ path: "/id", message: "external_id is required: the order has no id" }],
    };
  const reference = id;
  const status = textAt(payload, "status") ?? "";
  if (!options.statuses.includes(status)) {
    return {
      kind: "skip",
      reason: `status "${status}" is not one the connector ships (${options.statuses.join(", ")})`,
      reference,
    };
  }

  const shipping = objectAt(payload, "shipping");
  const billing = objectAt(payload, "billing");
  const shippingLines = arrayAt(payload, "shipping_lines") ?? [];
  let address: JsonObject | undefined;
  let base = "/shipping";
  if (textAt(shipping, "address_1")) address = shipping;
  else if (shippingLines.length > 0 && textAt(billing, "address_1")) {
    address = billing;
    base = "/billing";
  }
  if (!address) {
    return {
      kind: "skip",
      reason: "nothing to ship: no shipping address and no shipping line (virtual order or pickup)",
      reference,
    };
  }

  const lines: ShipLine[] = [];
  (arrayAt(payload, "line_items") ?? []).forEach((item, index) => {
    if (!isObject(item)) return;
    const source = `/line_items/${index}`;
    const quantity = draft.number(item.quantity, `${source}/quantity`, "quantity") ?? 1;
    if (quantity <= 0) return;
    lines.push({
      source,
      name: textOf(item.name) ?? textOf(item.sku) ?? `line ${index + 1}`,
      quantity,
      weightSource: `${source}`,
      value: draft.number(item.total, `${source}/total`, "total"),
    });
  });
  if (lines.length === 0)
    return { kind: "skip", reason: "nothing to ship: the order has no line items", reference };

  draft.set("/external_id", `${options.externalIdPrefix}${id}`, "/id");
  const person = joinText([textAt(address, "first_name"), textAt(address, "last_name")]);
  const company = textAt(address, "company");
  draft.requireText(
    "/recipient/name",
    firstText([
      [person, `${base}/first_name`],
      [company, `${base}/company`],
    ]),
    `${base.slice(1)}.first_name and last_name are empty`,
    `${base}/first_name`,
  );
  draft.requireText(
    "/recipient/phone",
    firstText([
      [textAt(shipping, "phone"), "/shipping/phone"],
      [textAt(billing, "phone"), "/billing/phone"],
    ]),
    "neither shipping.phone nor billing.phone is set",
    "/billing/phone",
  );
  const email = textAt(billing, "email");
  if (email) draft.set("/recipient/email", email, "/billing/email");
  draft.requireText(
    "/destination/address_line1",
    firstText([[textAt(address, "address_1"), `${base}/address_1`]]),
    "address_1 is empty",
    `${base}/address_1`,
  );
  // A company name goes with the address when a person is the recipient; otherwise it is the recipient.
  draft.set(
    "/destination/address_line2",
    joinText([textAt(address, "address_2"), person ? company : undefined], ", "),
    `${base}/address_2`,
  );
  draft.requireText(
    "/destination/city",
    firstText([[textAt(address, "city"), `${base}/city`]]),
    "city is empty",
    `${base}/city`,
  );
  draft.set("/destination/region", textAt(address, "state"), `${base}/state`);
  draft.set("/destination/postal_code", textAt(address, "postcode"), `${base}/postcode`);
  draft.country("/destination/country", textAt(address, "country"), `${base}/country`);

  addPackages(draft, lines, options.defaults, {
    packaging: options.defaults.packaging ?? "single",
    linesSource: "/line_items",
  });

  const currency = textAt(payload, "currency");
  draft.set("/currency", currency, "/currency");
  // WooCommerce's built-in "Cash on delivery" gateway: the order is shipped unpaid (date_paid stays empty).
  if (textAt(payload, "payment_method") === "cod" && !textAt(payload, "date_paid")) {
    draft.set("/cod_amount", draft.number(payload.total, "/total", "total"), "/total");
  }
  draft.set("/notes", textAt(payload, "customer_note")?.slice(0, 1000), "/customer_note");
  applyDefaults(draft, options.defaults, "/");
  draft.metadata("source", "woocommerce", "/");
  draft.metadata("platform_order_id", id, "/id");
  draft.metadata("order_number", textAt(payload, "number"), "/number");
  draft.metadata("connector_id", options.connectorId, "/");
  return draft.finish(reference);
}
