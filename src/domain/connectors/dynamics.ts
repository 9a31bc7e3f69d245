import {
  addPackages,
  applyDefaults,
  arrayAt,
  firstText,
  isObject,
  type JsonObject,
  type MapOutcome,
  type MappingDefaults,
  OrderDraft,
  type ShipLine,
  textAt,
  textOf,
} from "./mapping.ts";

/**
 * Microsoft Dynamics 365 Business Central API v2.0 `salesOrder` with `salesOrderLines` expanded -> order input.
 *
 * - external_id: `number`, Business Central's own order number (unique in the company); the customer's reference
 *   `externalDocumentNumber` is kept in metadata, with `customerNumber` and the record `id`.
 * - Ship-to is flat: shipToName (the recipient), shipToContact (kept in the notes for the driver),
 *   shipToAddressLine1/2, shipToCity, shipToState, shipToPostCode, shipToCountry; phoneNumber, email.
 * - Each line of type `Item` is one package; `netWeight` is per unit, in the company's weight unit (kg).
 *   Comment, G/L account and resource lines ship nothing and are skipped.
 */
export interface DynamicsMappingOptions {
  defaults: MappingDefaults;
}

/** The sales orders of a body: one `salesOrder`, or an OData collection `{"value": [...]}`. */
export function dynamicsSalesOrders(payload: unknown): Array<{ order: unknown; base: string }> | null {
  if (!isObject(payload)) return null;
  if (Array.isArray(payload.value))
    return payload.value.map((order, index) => ({ order, base: `/value/${index}` }));
  return [{ order: payload, base: "" }];
}

export function mapDynamicsSalesOrder(
  payload: unknown,
  base: string,
  options: DynamicsMappingOptions,
): MapOutcome {
  const at = (path: string) => `${base}${path}`;
  if (!isObject(payload)) {
    return {
      kind: "invalid",
      errors: [{ path: at("/") || "/", message: "a salesOrder must be a JSON object" }],
    };
  }
  const order: JsonObject = payload;
  const draft = new OrderDraft();
  const number = textAt(order, "number");
  const reference = number ?? "";
  draft.requireText(
    "/external_id",
    number ? { value: number, source: at("/number") } : undefined,
    "the sales order has no number",
    at("/number"),
  );
  draft.requireText(
    "/recipient/name",
    firstText([
      [textAt(order, "shipToName"), at("/shipToName")],
      [textAt(order, "shipToContact"), at("/shipToContact")],
      [textAt(order, "customerName"), at("/customerName")],
    ]),
    "shipToName, shipToContact and customerName are empty",
    at("/shipToName"),
  );
  draft.requireText(
    "/recipient/phone",
    firstText([[textAt(order, "phoneNumber"), at("/phoneNumber")]]),
    "phoneNumber is empty",
    at("/phoneNumber"),
  );
  draft.set("/recipient/email", textAt(order, "email"), at("/email"));
  draft.requireText(
    "/destination/address_line1",
    firstText([[textAt(order, "shipToAddressLine1"), at("/shipToAddressLine1")]]),
    "shipToAddressLine1 is empty",
    at("/shipToAddressLine1"),
  );
  draft.set("/destination/address_line2", textAt(order, "shipToAddressLine2"), at("/shipToAddressLine2"));
  draft.requireText(
    "/destination/city",
    firstText([[textAt(order, "shipToCity"), at("/shipToCity")]]),
    "shipToCity is empty",
    at("/shipToCity"),
  );
  draft.set("/destination/region", textAt(order, "shipToState"), at("/shipToState"));
  draft.set("/destination/postal_code", textAt(order, "shipToPostCode"), at("/shipToPostCode"));
  draft.country("/destination/country", textAt(order, "shipToCountry"), at("/shipToCountry"));

  const lines: ShipLine[] = [];
  const rawLines = arrayAt(order, "salesOrderLines");
  (rawLines ?? []).forEach((line, index) => {
    if (!isObject(line)) return;
    const lineType = textAt(line, "lineType") ?? "Item";
    if (lineType !== "Item") return;
    const source = at(`/salesOrderLines/${index}`);
    const quantity = draft.number(line.quantity, `${source}/quantity`, "quantity") ?? 1;
    if (quantity <= 0) return;
    const unitWeight = draft.number(line.netWeight, `${source}/netWeight`, "netWeight");
    const amount = draft.number(
      line.amountIncludingTax ?? line.netAmount,
      `${source}/amountIncludingTax`,
      "amountIncludingTax",
    );
    lines.push({
      source,
      name: textOf(line.description) ?? textOf(line.lineObjectNumber) ?? `line ${index + 1}`,
      quantity,
      weightKg: unitWeight !== undefined ? unitWeight * quantity : undefined,
      weightSource: `${source}/netWeight`,
      value: amount,
    });
  });
  if (lines.length === 0) {
    draft.fail(
      at("/salesOrderLines"),
      rawLines
        ? "packages: no salesOrderLines of lineType Item"
        : "packages: salesOrderLines is missing; read the order with ?$expand=salesOrderLines",
    );
  } else {
    addPackages(draft, lines, options.defaults, {
      packaging: options.defaults.packaging ?? "per_line",
      linesSource: at("/salesOrderLines"),
    });
  }
  const contact = textAt(order, "shipToContact");
  if (contact && contact !== textAt(order, "shipToName"))
    draft.set("/notes", `Attn: ${contact}`.slice(0, 1000), at("/shipToContact"));
  draft.set("/currency", textAt(order, "currencyCode"), at("/currencyCode"));
  applyDefaults(draft, options.defaults, at("/"));
  draft.metadata("source", "dynamics_bc", at("/"));
  draft.metadata(
    "external_document_number",
    textAt(order, "externalDocumentNumber"),
    at("/externalDocumentNumber"),
  );
  draft.metadata("customer_number", textAt(order, "customerNumber"), at("/customerNumber"));
  draft.metadata(
    "requested_delivery_date",
    textAt(order, "requestedDeliveryDate"),
    at("/requestedDeliveryDate"),
  );
  draft.metadata("dynamics_id", textAt(order, "id"), at("/id"));
  return draft.finish(reference);
}
