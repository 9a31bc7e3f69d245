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
 * Magento 2 / Adobe Commerce order entity (as `GET /V1/orders/{id}` returns it) -> order input. The same mapper
 * serves the Adobe Commerce webhook and the Magento Open Source poller.
 *
 * - external_id: prefix + `entity_id` (unique in the installation, while `increment_id` is unique per store only);
 *   `increment_id` is kept in metadata as `order_number`.
 * - Ship-to: `extension_attributes.shipping_assignments[0].shipping.address`; `street` is an array of lines.
 * - Weights use the store's weight unit (`kgs` by default, `lbs` when the connector says so); `row_weight` is the
 *   line's weight, `weight` the unit's. Child rows of configurable or bundle products (`parent_item_id`) are
 *   skipped: their parent row carries the line.
 * - Virtual orders and orders without a shipping assignment are skipped, as are canceled and closed ones.
 */
export interface MagentoMappingOptions {
  externalIdPrefix: string;
  defaults: MappingDefaults;
  weightUnit: "kgs" | "lbs";
  connectorId?: string | undefined;
}

const poundsToKg = 0.45359237;
const virtualTypes = new Set(["virtual", "downloadable", "giftcard"]);

/**
 * Finds the order entity in a webhook body: Adobe Commerce sends what the webhook's `fields` select, usually
 * `{"data": {"order": {...}}}`; the bare entity (as `GET /V1/orders/{id}`) is accepted too.
 */
export function magentoOrderEntity(payload: unknown): { entity: JsonObject; base: string } | null {
  if (!isObject(payload)) return null;
  const asOrder = (value: unknown): JsonObject | undefined =>
    isObject(value) && (value.entity_id !== undefined || value.increment_id !== undefined)
      ? value
      : undefined;
  const bare = asOrder(payload);
  if (bare) return { entity: bare, base: "" };
  const wrapped = asOrder(objectAt(payload, "data")?.order);
  if (wrapped) return { entity: wrapped, base: "/data/order" };
  const named = asOrder(payload.order);
  if (named) return { entity: named, base: "/order" };
  return null;
}

export function mapMagentoOrder(payload: unknown, options: MagentoMappingOptions): MapOutcome {
  const found = magentoOrderEntity(payload);
  if (!found) {
    return {
      kind: "invalid",
      errors: [
        {
          path: "/",
          message:
            'no order entity found: expected the order (entity_id, increment_id) or {"data":{"order":{...}}}',
        },
      ],
    };
  }
  const { entity, base } = found;
  const at = (path: string) => `${base}${path}`;
  const draft = new OrderDraft();
  const entityId = textOf(entity.entity_id);
  if (!entityId)
    return {
      kind: "invalid",
      errors: [{ path: at("/entity_id"), message: "external_id is required: the order has no entity_id" }],
    };
  const reference = entityId;
  const state = textAt(entity, "state");
  if (state === "canceled" || state === "closed")
    return { kind: "skip", reason: `the order is ${state}`, reference };
  if (entity.is_virtual === 1 || entity.is_virtual === true)
    return { kind: "skip", reason: "nothing to ship: the order is virtual", reference };

  const unit = options.weightUnit === "lbs" ? poundsToKg : 1;
  const lines: ShipLine[] = [];
  (arrayAt(entity, "items") ?? []).forEach((item, index) => {
    if (!isObject(item)) return;
    if (item.parent_item_id !== undefined && item.parent_item_id !== null) return;
    if (
      item.is_virtual === 1 ||
      item.is_virtual === true ||
      virtualTypes.has(textAt(item, "product_type") ?? "")
    )
      return;
    const source = at(`/items/${index}`);
    const ordered = draft.number(item.qty_ordered, `${source}/qty_ordered`, "qty_ordered") ?? 1;
    const canceled = draft.number(item.qty_canceled, `${source}/qty_canceled`, "qty_canceled") ?? 0;
    const quantity = ordered - canceled;
    if (quantity <= 0) return;
    const rowWeight = draft.number(item.row_weight, `${source}/row_weight`, "row_weight");
    const unitWeight = draft.number(item.weight, `${source}/weight`, "weight");
    const lineWeight =
      rowWeight !== undefined && rowWeight > 0
        ? rowWeight
        : unitWeight !== undefined
          ? unitWeight * quantity
          : undefined;
    const rowTotal = draft.number(
      item.row_total_incl_tax ?? item.row_total,
      `${source}/row_total`,
      "row_total",
    );
    lines.push({
      source,
      name: textOf(item.name) ?? textOf(item.sku) ?? `item ${index + 1}`,
      quantity,
      weightKg: lineWeight !== undefined ? lineWeight * unit : undefined,
      weightSource: `${source}/${rowWeight !== undefined ? "row_weight" : "weight"}`,
      value: rowTotal,
    });
  });
  const assignment = (arrayAt(objectAt(entity, "extension_attributes"), "shipping_assignments") ?? [])[0];
  const addressBase = at("/extension_attributes/shipping_assignments/0/shipping/address");
  const address = objectAt(objectAt(assignment, "shipping"), "address");
  if (!address)
    return {
      kind: "skip",
      reason: "nothing to ship: the order has no shipping assignment (virtual or pickup)",
      reference,
    };
  if (lines.length === 0)
    return { kind: "skip", reason: "nothing to ship: no item needs shipping", reference };

  draft.set("/external_id", `${options.externalIdPrefix}${entityId}`, at("/entity_id"));
  draft.requireText(
    "/recipient/name",
    firstText([
      [joinText([textAt(address, "firstname"), textAt(address, "lastname")]), `${addressBase}/firstname`],
      [
        joinText([textAt(entity, "customer_firstname"), textAt(entity, "customer_lastname")]),
        at("/customer_firstname"),
      ],
    ]),
    "the address's firstname/lastname and the customer's name are empty",
    `${addressBase}/firstname`,
  );
  draft.requireText(
    "/recipient/phone",
    firstText([
      [textAt(address, "telephone"), `${addressBase}/telephone`],
      [textAt(objectAt(entity, "billing_address"), "telephone"), at("/billing_address/telephone")],
    ]),
    "the shipping address has no telephone",
    `${addressBase}/telephone`,
  );
  const email = firstText([
    [textAt(address, "email"), `${addressBase}/email`],
    [textAt(entity, "customer_email"), at("/customer_email")],
  ]);
  if (email) draft.set("/recipient/email", email.value, email.source);
  const street = (arrayAt(address, "street") ?? [])
    .map(textOf)
    .filter((line): line is string => line !== undefined);
  draft.requireText(
    "/destination/address_line1",
    street[0] !== undefined ? { value: street[0], source: `${addressBase}/street/0` } : undefined,
    "street is empty",
    `${addressBase}/street`,
  );
  draft.set(
    "/destination/address_line2",
    joinText([...street.slice(1), textAt(address, "company")], ", "),
    `${addressBase}/street/1`,
  );
  draft.requireText(
    "/destination/city",
    firstText([[textAt(address, "city"), `${addressBase}/city`]]),
    "city is empty",
    `${addressBase}/city`,
  );
  const region = firstText([
    [textAt(address, "region"), `${addressBase}/region`],
    [textAt(address, "region_code"), `${addressBase}/region_code`],
  ]);
  if (region) draft.set("/destination/region", region.value, region.source);
  draft.set("/destination/postal_code", textAt(address, "postcode"), `${addressBase}/postcode`);
  draft.country("/destination/country", textAt(address, "country_id"), `${addressBase}/country_id`);

  const grandTotal = draft.number(entity.grand_total, at("/grand_total"), "grand_total");
  addPackages(draft, lines, options.defaults, {
    packaging: options.defaults.packaging ?? "single",
    linesSource: at("/items"),
    orderValue: grandTotal !== undefined ? { value: grandTotal, source: at("/grand_total") } : undefined,
  });
  // Magento's built-in "Cash On Delivery Payment" method: collect what is still due.
  if (textAt(objectAt(entity, "payment"), "method") === "cashondelivery") {
    const due = draft.number(entity.total_due, at("/total_due"), "total_due");
    draft.set("/cod_amount", due ?? grandTotal, due !== undefined ? at("/total_due") : at("/grand_total"));
  }
  draft.set("/currency", textAt(entity, "order_currency_code"), at("/order_currency_code"));
  draft.set("/notes", textAt(entity, "customer_note")?.slice(0, 1000), at("/customer_note"));
  applyDefaults(draft, options.defaults, at("/"));
  draft.metadata("source", "magento", at("/"));
  draft.metadata("platform_order_id", entityId, at("/entity_id"));
  draft.metadata("order_number", textAt(entity, "increment_id"), at("/increment_id"));
  draft.metadata("connector_id", options.connectorId, at("/"));
  return draft.finish(reference);
}
