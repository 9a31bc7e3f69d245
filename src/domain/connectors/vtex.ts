import {
  addPackages,
  applyDefaults,
  arrayAt,
  firstText,
  isObject,
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
 * VTEX. The Orders hook only says that an order changed state; the order itself is then read from the OMS API
 * (`GET /api/oms/pvt/orders/{orderId}`) by a durable job, so the hook is answered at once.
 */

export type VtexHook =
  | { kind: "ping" }
  | { kind: "order"; orderId: string; state: string; account: string; currentChange: string | undefined }
  | { kind: "invalid"; errors: Array<{ path: string; message: string }> };

/** Reads a hook body: the `{"hookConfig":"ping"}` VTEX sends when the hook is saved, or a state change. */
export function parseVtexHook(payload: unknown): VtexHook {
  if (!isObject(payload))
    return { kind: "invalid", errors: [{ path: "/", message: "the body must be a VTEX hook object" }] };
  if (payload.hookConfig === "ping") return { kind: "ping" };
  const errors: Array<{ path: string; message: string }> = [];
  const orderId = textAt(payload, "OrderId");
  const state = textAt(payload, "State");
  const account = textAt(objectAt(payload, "Origin"), "Account");
  if (!orderId) errors.push({ path: "/OrderId", message: "OrderId is required" });
  if (!state) errors.push({ path: "/State", message: "State is required" });
  if (!account) errors.push({ path: "/Origin/Account", message: "Origin.Account is required" });
  if (errors.length > 0 || !orderId || !state || !account) return { kind: "invalid", errors };
  return { kind: "order", orderId, state, account, currentChange: textAt(payload, "CurrentChange") };
}

/** The OMS path of an order; the id is encoded because it comes from a notification body. */
export function vtexOrderPath(orderId: string): string {
  return `/api/oms/pvt/orders/${encodeURIComponent(orderId)}`;
}

export interface VtexMappingOptions {
  externalIdPrefix: string;
  defaults: MappingDefaults;
  connectorId?: string | undefined;
}

/**
 * OMS order -> order input.
 *
 * - external_id: prefix + `orderId` (`1389581234567-01`, unique in the account).
 * - `shippingData.address.country` is ISO 3166-1 alpha-3 (`COL`) and becomes alpha-2 (`CO`).
 * - `geoCoordinates` is [longitude, latitude], in that order.
 * - Item weights (`additionalInfo.dimension.weight`) are grams per unit; dimensions are centimetres.
 * - Money is in cents: `value` 23990000 is 239,900.00.
 * - Orders whose every item is picked up in a store (`deliveryChannel: pickup-in-point`) are skipped.
 */
export function mapVtexOrder(payload: unknown, options: VtexMappingOptions): MapOutcome {
  const draft = new OrderDraft();
  if (!isObject(payload)) {
    return {
      kind: "invalid",
      errors: [{ path: "/", message: "the OMS response must be a VTEX order object" }],
    };
  }
  const orderId = textAt(payload, "orderId");
  if (!orderId)
    return {
      kind: "invalid",
      errors: [{ path: "/orderId", message: "external_id is required: the order has no orderId" }],
    };
  const reference = orderId;
  const status = textAt(payload, "status");
  if (status === "canceled" || status === "cancellation-requested") {
    return { kind: "skip", reason: `the order is ${status}`, reference };
  }
  const shippingData = objectAt(payload, "shippingData");
  const logistics = arrayAt(shippingData, "logisticsInfo") ?? [];
  const pickup = new Set<number>();
  logistics.forEach((entry, index) => {
    if (textAt(entry, "deliveryChannel") === "pickup-in-point") {
      const itemIndex = isObject(entry) && typeof entry.itemIndex === "number" ? entry.itemIndex : index;
      pickup.add(itemIndex);
    }
  });

  const lines: ShipLine[] = [];
  (arrayAt(payload, "items") ?? []).forEach((item, index) => {
    if (!isObject(item) || pickup.has(index)) return;
    const source = `/items/${index}`;
    const quantity = draft.number(item.quantity, `${source}/quantity`, "quantity") ?? 1;
    if (quantity <= 0) return;
    const dimension = objectAt(objectAt(item, "additionalInfo"), "dimension");
    const grams = draft.number(dimension?.weight, `${source}/additionalInfo/dimension/weight`, "weight");
    const cents = draft.number(item.sellingPrice ?? item.price, `${source}/price`, "price");
    lines.push({
      source,
      name: textOf(item.name) ?? textOf(item.refId) ?? `item ${index + 1}`,
      quantity,
      weightKg: grams !== undefined ? (grams * quantity) / 1000 : undefined,
      weightSource: `${source}/additionalInfo/dimension/weight`,
      value: cents !== undefined ? (cents * quantity) / 100 : undefined,
      dimensionsCm: dimension
        ? {
            length: draft.number(dimension.length, `${source}/additionalInfo/dimension/length`, "length"),
            width: draft.number(dimension.width, `${source}/additionalInfo/dimension/width`, "width"),
            height: draft.number(dimension.height, `${source}/additionalInfo/dimension/height`, "height"),
          }
        : undefined,
    });
  });
  if (lines.length === 0) {
    return {
      kind: "skip",
      reason: "nothing to ship: every item is picked up in a store, or there are no items",
      reference,
    };
  }

  const address = objectAt(shippingData, "address");
  if (!address) {
    draft.missing("/destination", "/shippingData/address", "the order has no shippingData.address");
    return draft.finish(reference);
  }
  const base = "/shippingData/address";
  const client = objectAt(payload, "clientProfileData");
  draft.set("/external_id", `${options.externalIdPrefix}${orderId}`, "/orderId");
  draft.requireText(
    "/recipient/name",
    firstText([
      [textAt(address, "receiverName"), `${base}/receiverName`],
      [joinText([textAt(client, "firstName"), textAt(client, "lastName")]), "/clientProfileData/firstName"],
    ]),
    "receiverName and the client's name are empty",
    `${base}/receiverName`,
  );
  draft.requireText(
    "/recipient/phone",
    firstText([[textAt(client, "phone"), "/clientProfileData/phone"]]),
    "clientProfileData.phone is empty",
    "/clientProfileData/phone",
  );
  const email = textAt(client, "email");
  if (email) draft.set("/recipient/email", email, "/clientProfileData/email");
  draft.requireText(
    "/destination/address_line1",
    firstText([[joinText([textAt(address, "street"), textAt(address, "number")]), `${base}/street`]]),
    "street is empty",
    `${base}/street`,
  );
  draft.set(
    "/destination/address_line2",
    joinText([textAt(address, "complement"), textAt(address, "neighborhood")], ", "),
    `${base}/complement`,
  );
  draft.requireText(
    "/destination/city",
    firstText([[textAt(address, "city"), `${base}/city`]]),
    "city is empty",
    `${base}/city`,
  );
  draft.set("/destination/region", textAt(address, "state"), `${base}/state`);
  draft.set("/destination/postal_code", textAt(address, "postalCode"), `${base}/postalCode`);
  draft.country("/destination/country", textAt(address, "country"), `${base}/country`);
  const coordinates = arrayAt(address, "geoCoordinates");
  if (coordinates && coordinates.length === 2) {
    const longitude = draft.number(coordinates[0], `${base}/geoCoordinates/0`, "longitude");
    const latitude = draft.number(coordinates[1], `${base}/geoCoordinates/1`, "latitude");
    if (longitude !== undefined && latitude !== undefined) {
      draft.set("/destination/longitude", longitude, `${base}/geoCoordinates/0`);
      draft.set("/destination/latitude", latitude, `${base}/geoCoordinates/1`);
    }
  }

  const value = draft.number(payload.value, "/value", "value");
  addPackages(draft, lines, options.defaults, {
    packaging: options.defaults.packaging ?? "single",
    linesSource: "/items",
    orderValue: value !== undefined ? { value: value / 100, source: "/value" } : undefined,
  });
  const currency = textAt(objectAt(payload, "storePreferencesData"), "currencyCode");
  draft.set("/currency", currency, "/storePreferencesData/currencyCode");
  draft.set("/notes", textAt(address, "reference")?.slice(0, 1000), `${base}/reference`);
  applyDefaults(draft, options.defaults, "/");
  draft.metadata("source", "vtex", "/");
  draft.metadata("platform_order_id", orderId, "/orderId");
  draft.metadata("order_number", textAt(payload, "sequence"), "/sequence");
  draft.metadata("connector_id", options.connectorId, "/");
  return draft.finish(reference);
}
