import "../validation-messages.ts";
import { type CreateOrderInput, CreateOrderSchema, type serviceLevels } from "../orders/schemas.ts";
import { toAlpha2 } from "./countries.ts";

/**
 * The common machinery of every connector mapper: a platform payload goes in, and out comes either an order input
 * that `POST /v1/orders/create` would accept, a deliberate skip (nothing to ship), or the list of what is missing
 * or wrong, each error naming the field in the platform's own payload (and the row or item it sits in).
 */

/** Same shape as the API's `errors` entries: `path` points into the caller's payload, `message` says what. */
export interface MappingError {
  path: string;
  message: string;
}

export type MapOutcome =
  | { kind: "order"; input: CreateOrderInput; reference: string }
  | { kind: "skip"; reason: string; reference?: string }
  | { kind: "invalid"; errors: MappingError[]; reference?: string };

export type Packaging = "single" | "per_line";

/** What a connector (or an import request) adds where the platform says nothing. */
export interface MappingDefaults {
  /** Weight of a package whose items carry no weight (WooCommerce never sends weights). */
  packageWeightKg?: number | undefined;
  serviceLevel?: (typeof serviceLevels)[number] | undefined;
  /** One package for the whole order (default for shops) or one per order line (default for ERP documents). */
  packaging?: Packaging | undefined;
}

const round = (value: number, decimals: number) => {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
};
/** Kilograms to the gram: sums of float weights otherwise come out as 1.8499999999. */
export const roundKg = (kg: number) => round(kg, 3);
export const roundMoney = (amount: number) => round(amount, 2);

// ---------------------------------------------------------------------------------------------------------------
// Reading untyped JSON

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function objectAt(value: unknown, key: string): JsonObject | undefined {
  if (!isObject(value)) return undefined;
  const found = value[key];
  return isObject(found) ? found : undefined;
}

export function arrayAt(value: unknown, key: string): unknown[] | undefined {
  if (!isObject(value)) return undefined;
  const found = value[key];
  return Array.isArray(found) ? found : undefined;
}

/** A non-blank string (numbers become their decimal text); blank, null and other types are absent. */
export function textOf(value: unknown): string | undefined {
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (typeof value !== "string") return undefined;
  const trimmed = value.trim();
  return trimmed === "" ? undefined : trimmed;
}

export function textAt(value: unknown, key: string): string | undefined {
  return isObject(value) ? textOf(value[key]) : undefined;
}

/** The first present value among candidates, with where it came from. */
export function firstText(
  candidates: Array<[value: string | undefined, source: string]>,
): { value: string; source: string } | undefined {
  for (const [value, source] of candidates) if (value !== undefined) return { value, source };
  return undefined;
}

export function joinText(parts: Array<string | undefined>, separator = " "): string | undefined {
  const present = parts.filter((part): part is string => part !== undefined && part.trim() !== "");
  return present.length > 0 ? present.join(separator) : undefined;
}

const decimalPattern = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

/**
 * A number from a JSON number or a decimal string with a dot ("149900.00"): platforms send money and weights
 * either way. `null`, absent and blank are `undefined`; anything else is `NaN`, which callers report.
 */
export function numberOf(value: unknown): number | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === "number") return Number.isFinite(value) ? value : Number.NaN;
  if (typeof value !== "string") return Number.NaN;
  const trimmed = value.trim();
  if (trimmed === "") return undefined;
  return decimalPattern.test(trimmed) ? Number(trimmed) : Number.NaN;
}

// ---------------------------------------------------------------------------------------------------------------
// Building an order

function pointerSegments(pointer: string): string[] {
  return pointer.split("/").filter((segment) => segment !== "");
}

function dotted(pointer: string): string {
  return pointerSegments(pointer).join(".");
}

/**
 * An order under construction. Every value is set together with the place it came from, so that when the order
 * schema rejects a value the error points at the platform's field (`/shippingData/address/country`, `row 3/city`)
 * and not at ours.
 */
export class OrderDraft {
  readonly errors: MappingError[] = [];
  private readonly value: JsonObject = {};
  private readonly sources = new Map<string, string>();

  /** `locate` turns a source path into the error path the caller sees (adds `row 3/`, `IDOC 2/`, ...). */
  constructor(private readonly locate: (source: string) => string = (source) => source) {}

  /** Sets `/recipient/phone`-style target fields; `undefined` leaves the field out. */
  set(target: string, value: unknown, source: string): void {
    const segments = pointerSegments(target);
    // The source is recorded even for an absent value: the schema's "required" error must point at it too.
    this.sources.set(`/${segments.join("/")}`, source);
    if (value === undefined) return;
    let node: JsonObject | unknown[] = this.value;
    for (let i = 0; i < segments.length - 1; i++) {
      const segment = segments[i]!;
      const nextIsIndex = /^\d+$/.test(segments[i + 1]!);
      const container = node as Record<string, unknown>;
      if (container[segment] === undefined) container[segment] = nextIsIndex ? [] : {};
      node = container[segment] as JsonObject | unknown[];
    }
    (node as Record<string, unknown>)[segments[segments.length - 1]!] = value;
  }

  /** Records that a target field could not be filled: `what` says where we looked. */
  missing(target: string, source: string, what: string): void {
    this.sources.set(target, source);
    this.errors.push({ path: this.locate(source), message: `${dotted(target)} is required: ${what}` });
  }

  fail(source: string, message: string): void {
    this.errors.push({ path: this.locate(source), message });
  }

  /** Sets a required text field, or records where it was looked for. */
  requireText(
    target: string,
    found: { value: string; source: string } | undefined,
    what: string,
    fallbackSource: string,
  ) {
    if (found) this.set(target, found.value, found.source);
    else this.missing(target, fallbackSource, what);
  }

  /** A number from the payload, or an error naming its source when it is not one. */
  number(value: unknown, source: string, label: string): number | undefined {
    const parsed = numberOf(value);
    if (parsed !== undefined && Number.isNaN(parsed)) {
      this.fail(source, `${label} must be a number, got ${JSON.stringify(value)}`);
      return undefined;
    }
    return parsed;
  }

  /** Sets the country from alpha-2 or alpha-3. */
  country(target: string, value: string | undefined, source: string): void {
    if (value === undefined) {
      this.missing(target, source, "the country is empty");
      return;
    }
    const result = toAlpha2(value);
    if (result.ok) this.set(target, result.code, source);
    else {
      this.sources.set(target, source);
      this.fail(source, `${dotted(target)}: ${result.message}`);
    }
  }

  metadata(key: string, value: string | undefined, source: string): void {
    if (value === undefined) return;
    this.set(`/metadata/${key}`, value.length > 500 ? value.slice(0, 500) : value, source);
  }

  /**
   * Validates the draft with the same schema as `POST /v1/orders/create`. Every problem is reported at once: the
   * mapper's own findings, then the schema's, except where a field was already reported (one error per place).
   */
  finish(reference: string): MapOutcome {
    const parsed = CreateOrderSchema.safeParse(this.value);
    if (parsed.success && this.errors.length === 0) return { kind: "order", input: parsed.data, reference };
    const errors = [...this.errors];
    const reported = new Set(errors.map((error) => error.path));
    for (const issue of parsed.success ? [] : parsed.error.issues) {
      const target = `/${issue.path.map(String).join("/")}`;
      const path = this.locate(this.sourceOf(target));
      if (reported.has(path)) continue;
      reported.add(path);
      errors.push({ path, message: `${dotted(target)}: ${issue.message}` });
    }
    return { kind: "invalid", errors, reference };
  }

  /** The recorded source of a target, or of its closest recorded parent or child (refinements name a parent). */
  private sourceOf(target: string): string {
    const exact = this.sources.get(target);
    if (exact) return exact;
    let best: [string, string] | undefined;
    for (const entry of this.sources) {
      const [recorded] = entry;
      if (target.startsWith(`${recorded}/`) && (!best || recorded.length > best[0].length)) best = entry;
    }
    if (best) return best[1];
    for (const [recorded, source] of this.sources) if (recorded.startsWith(`${target}/`)) return source;
    return target;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Packages

/** One order line that needs shipping, already read from the platform's format. */
export interface ShipLine {
  /** Where the line is in the payload (`/line_items/0`, `E1EDP01 000010`). */
  source: string;
  name: string;
  quantity: number;
  /** Weight of the whole line (quantity included), when the platform gives one. */
  weightKg?: number | undefined;
  /** Where the weight comes from, or would come from, for error messages. */
  weightSource: string;
  /** Value of the whole line, in the order's currency. */
  value?: number | undefined;
  /** Per-unit dimensions: used when a package holds exactly one unit. */
  dimensionsCm?: { length?: number; width?: number; height?: number } | undefined;
}

export function describeLine(line: Pick<ShipLine, "name" | "quantity">): string {
  return line.quantity === 1 ? line.name : `${line.quantity} × ${line.name}`;
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function setDimensions(draft: OrderDraft, index: number, line: ShipLine) {
  if (line.quantity !== 1 || !line.dimensionsCm) return;
  const { length, width, height } = line.dimensionsCm;
  if (length !== undefined && length > 0) draft.set(`/packages/${index}/length_cm`, length, line.source);
  if (width !== undefined && width > 0) draft.set(`/packages/${index}/width_cm`, width, line.source);
  if (height !== undefined && height > 0) draft.set(`/packages/${index}/height_cm`, height, line.source);
}

/**
 * Turns shippable lines into packages: one package holding everything (shops: an order usually leaves in one box),
 * or one package per line (ERPs: B2B lines are boxed or palletised separately). A line without a weight takes the
 * default package weight; with no default it is an error naming the weight field, never a guess.
 */
export function addPackages(
  draft: OrderDraft,
  lines: ShipLine[],
  defaults: MappingDefaults,
  options: {
    packaging: Packaging;
    orderValue?: { value: number; source: string } | undefined;
    linesSource: string;
  },
): void {
  const hint =
    "set a default package weight (defaults.package_weight_kg on the connector, or default_weight_kg on the import)";
  if (options.packaging === "per_line") {
    if (lines.length > 50) {
      draft.fail(
        options.linesSource,
        `packages: an order holds at most 50 packages and this one has ${lines.length} lines; split the order`,
      );
      return;
    }
    lines.forEach((line, index) => {
      const weight =
        line.weightKg !== undefined && line.weightKg > 0 ? line.weightKg : defaults.packageWeightKg;
      if (weight === undefined) {
        draft.missing(`/packages/${index}/weight_kg`, line.weightSource, `the line has no weight; ${hint}`);
      } else {
        draft.set(`/packages/${index}/weight_kg`, roundKg(weight), line.weightSource);
      }
      draft.set(`/packages/${index}/description`, clip(describeLine(line), 500), line.source);
      if (line.value !== undefined)
        draft.set(`/packages/${index}/declared_value`, roundMoney(line.value), line.source);
      setDimensions(draft, index, line);
    });
    return;
  }
  const known = lines.reduce(
    (sum, line) => sum + (line.weightKg !== undefined && line.weightKg > 0 ? line.weightKg : 0),
    0,
  );
  const weight = known > 0 ? roundKg(known) : defaults.packageWeightKg;
  const weightSource = lines.length === 1 ? lines[0]!.weightSource : options.linesSource;
  if (weight === undefined) {
    draft.missing("/packages/0/weight_kg", weightSource, `no line carries a weight; ${hint}`);
  } else {
    draft.set("/packages/0/weight_kg", weight, weightSource);
  }
  draft.set("/packages/0/description", clip(lines.map(describeLine).join(", "), 500), options.linesSource);
  const allValued = lines.every((line) => line.value !== undefined);
  if (allValued) {
    draft.set(
      "/packages/0/declared_value",
      roundMoney(lines.reduce((sum, line) => sum + line.value!, 0)),
      options.linesSource,
    );
  } else if (options.orderValue) {
    draft.set("/packages/0/declared_value", roundMoney(options.orderValue.value), options.orderValue.source);
  }
  if (lines.length === 1) setDimensions(draft, 0, lines[0]!);
}

/** Sets `service_level` from the defaults. */
export function applyDefaults(draft: OrderDraft, defaults: MappingDefaults, source: string): void {
  if (defaults.serviceLevel) draft.set("/service_level", defaults.serviceLevel, source);
}
