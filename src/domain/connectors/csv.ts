import { Readable } from "node:stream";
import type { ReadableStream as NodeWebReadableStream } from "node:stream/web";
import { CsvError, parse } from "csv-parse";
import type { MapOutcome, MappingDefaults, MappingError } from "./mapping.ts";
import { OrderDraft, roundKg, roundMoney, textOf } from "./mapping.ts";

/**
 * The CSV order import: RFC 4180, UTF-8 (a byte-order mark is ignored), a header row, one order per row. Columns
 * may come in any order; names are matched without regard to case or surrounding blanks. An unknown column is an
 * error rather than being ignored, so a misspelt optional column does not silently lose its data.
 */
export const csvColumns = {
  external_id: {
    required: true,
    description: "Your order number; a row whose external_id exists is a duplicate.",
  },
  recipient_name: { required: true, description: "Who receives the shipment." },
  recipient_phone: { required: true, description: "Phone number, preferably E.164 (+573001234567)." },
  recipient_email: { required: false, description: "Email for notifications." },
  address_line1: { required: true, description: "Street address." },
  address_line2: { required: false, description: "Apartment, floor, building." },
  city: { required: true, description: "City." },
  region: { required: false, description: "Department, state or province." },
  postal_code: { required: false, description: "Postal code (kept as text: leading zeros stay)." },
  country: { required: true, description: "ISO 3166-1 country: alpha-2 (CO) or alpha-3 (COL)." },
  latitude: { required: false, description: "Decimal degrees with a dot; give both or neither." },
  longitude: { required: false, description: "Decimal degrees with a dot; give both or neither." },
  weight_kg: {
    required: true,
    description: "Total weight of the order in kg, split evenly over `packages`.",
  },
  packages: { required: false, description: "Number of parcels, 1 to 50 (default 1)." },
  cod_amount: { required: false, description: "Cash to collect on delivery; needs `currency`." },
  currency: { required: false, description: "ISO 4217 code (COP)." },
  notes: { required: false, description: "Instructions for the driver." },
  service_level: { required: false, description: "standard, express, same_day, next_day or scheduled." },
  description: { required: false, description: "What the parcels hold." },
  declared_value: {
    required: false,
    description: "Declared value of the whole order, split over the parcels.",
  },
} as const;

export type CsvColumn = keyof typeof csvColumns;
export const csvHeader = Object.keys(csvColumns) as CsvColumn[];

function isColumn(name: string): name is CsvColumn {
  return Object.hasOwn(csvColumns, name);
}

export type CsvHeader = Map<CsvColumn, number>;

/** Validates the header row; `weight_kg` may be absent when the import has a default package weight. */
export function readCsvHeader(
  fields: string[],
  defaults: MappingDefaults,
): { ok: true; header: CsvHeader } | { ok: false; errors: MappingError[] } {
  const errors: MappingError[] = [];
  const header: CsvHeader = new Map();
  fields.forEach((raw, index) => {
    const name = raw.trim().toLowerCase();
    if (!isColumn(name)) {
      errors.push({
        path: `row 1/column ${index + 1}`,
        message: `unknown column "${raw}"; the columns are ${csvHeader.join(", ")}`,
      });
    } else if (header.has(name)) {
      errors.push({ path: `row 1/column ${index + 1}`, message: `column "${name}" appears twice` });
    } else {
      header.set(name, index);
    }
  });
  for (const column of csvHeader) {
    if (!csvColumns[column].required || header.has(column)) continue;
    if (column === "weight_kg" && defaults.packageWeightKg !== undefined) continue;
    errors.push({ path: "row 1", message: `the required column "${column}" is missing` });
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, header };
}

/** Maps one data row; `row` counts the header as row 1, as a spreadsheet shows it. */
export function mapCsvRow(
  fields: string[],
  header: CsvHeader,
  row: number,
  defaults: MappingDefaults,
): MapOutcome {
  const draft = new OrderDraft((source) => `row ${row}/${source.replace(/^\//, "")}`);
  const cell = (column: CsvColumn): string | undefined => {
    const index = header.get(column);
    return index === undefined ? undefined : textOf(fields[index]);
  };
  const reference = cell("external_id") ?? "";
  if (fields.length !== header.size) {
    return {
      kind: "invalid",
      errors: [
        {
          path: `row ${row}`,
          message: `the row has ${fields.length} fields and the header has ${header.size}`,
        },
      ],
      reference,
    };
  }
  const text = (target: string, column: CsvColumn) => draft.set(target, cell(column), column);
  const number = (column: CsvColumn) => draft.number(cell(column), column, column);

  text("/external_id", "external_id");
  text("/recipient/name", "recipient_name");
  text("/recipient/phone", "recipient_phone");
  text("/recipient/email", "recipient_email");
  text("/destination/address_line1", "address_line1");
  text("/destination/address_line2", "address_line2");
  text("/destination/city", "city");
  text("/destination/region", "region");
  text("/destination/postal_code", "postal_code");
  const country = cell("country");
  if (country !== undefined) draft.country("/destination/country", country, "country");
  draft.set("/destination/latitude", number("latitude"), "latitude");
  draft.set("/destination/longitude", number("longitude"), "longitude");
  // Required cells that are empty are reported by the schema, under the column's name.
  for (const [target, column] of [
    ["/external_id", "external_id"],
    ["/recipient/name", "recipient_name"],
    ["/recipient/phone", "recipient_phone"],
    ["/destination/address_line1", "address_line1"],
    ["/destination/city", "city"],
    ["/destination/country", "country"],
  ] as const) {
    if (cell(column) === undefined) draft.missing(target, column, "the cell is empty");
  }

  const count = number("packages") ?? 1;
  if (!Number.isInteger(count) || count < 1 || count > 50) {
    draft.set("/packages", undefined, "packages");
    draft.fail(
      "packages",
      `packages must be a whole number from 1 to 50, got ${JSON.stringify(cell("packages"))}`,
    );
  } else {
    const weightCell = cell("weight_kg");
    const weight = weightCell === undefined ? defaults.packageWeightKg : number("weight_kg");
    if (weightCell === undefined && weight === undefined) {
      draft.missing(
        "/packages/0/weight_kg",
        "weight_kg",
        "the cell is empty and the import has no default_weight_kg",
      );
    }
    const value = number("declared_value");
    const description = cell("description");
    for (let index = 0; index < count; index++) {
      draft.set(
        `/packages/${index}/weight_kg`,
        weight === undefined ? undefined : roundKg(weight / count),
        "weight_kg",
      );
      if (value !== undefined)
        draft.set(`/packages/${index}/declared_value`, roundMoney(value / count), "declared_value");
      draft.set(`/packages/${index}/description`, description, "description");
    }
  }
  draft.set("/cod_amount", number("cod_amount"), "cod_amount");
  text("/currency", "currency");
  text("/notes", "notes");
  draft.set("/service_level", cell("service_level") ?? defaults.serviceLevel, "service_level");
  draft.metadata("source", "csv", "external_id");
  return draft.finish(reference);
}

export class CsvFormatError extends Error {
  constructor(
    message: string,
    readonly row: number,
  ) {
    super(message);
    this.name = "CsvFormatError";
  }
}

export interface CsvRow {
  row: number;
  outcome: MapOutcome;
}

export type CsvImportOpening =
  | { ok: true; columns: CsvColumn[]; rows: AsyncGenerator<CsvRow>; bytesRead(): number }
  | { ok: false; errors: MappingError[] };

/**
 * Starts reading a CSV body as a stream: reads just the header, validates it, and returns the data rows as an
 * async generator that pulls the body as it goes. At no point is the whole file in memory: the parser holds the
 * record being parsed, and back-pressure stops reading the request while the consumer is busy with the database.
 * A malformed file (an unclosed quote) throws `CsvFormatError` from the generator at the row where it happens.
 */
export async function openCsvImport(
  body: ReadableStream<Uint8Array>,
  defaults: MappingDefaults,
): Promise<CsvImportOpening> {
  const parser = parse({ bom: true, skip_empty_lines: true, relax_column_count: true });
  const source = Readable.fromWeb(body as NodeWebReadableStream<Uint8Array>);
  source.on("error", (error) => parser.destroy(error));
  source.pipe(parser);
  const records = parser[Symbol.asyncIterator]() as AsyncIterator<string[]>;
  const stop = () => {
    source.destroy();
    parser.destroy();
  };
  let first: IteratorResult<string[]>;
  try {
    first = await records.next();
  } catch (error) {
    stop();
    if (error instanceof CsvError)
      return { ok: false, errors: [{ path: "row 1", message: `malformed CSV: ${error.message}` }] };
    throw error;
  }
  if (first.done) {
    return {
      ok: false,
      errors: [{ path: "row 1", message: "the file is empty: it needs a header row and at least one order" }],
    };
  }
  const header = readCsvHeader(first.value, defaults);
  if (!header.ok) {
    stop();
    return header;
  }
  const columns = [...header.header.keys()];
  async function* rows(): AsyncGenerator<CsvRow> {
    let row = 1;
    try {
      while (true) {
        let next: IteratorResult<string[]>;
        try {
          next = await records.next();
        } catch (error) {
          if (error instanceof CsvError)
            throw new CsvFormatError(`malformed CSV after row ${row}: ${error.message}`, row + 1);
          throw error;
        }
        if (next.done) return;
        row += 1;
        yield { row, outcome: mapCsvRow(next.value, header.ok ? header.header : new Map(), row, defaults) };
      }
    } finally {
      stop();
    }
  }
  return { ok: true, columns, rows: rows(), bytesRead: () => parser.info.bytes };
}

/** The documented header line, for the guide and error messages. */
export const csvHeaderLine = csvHeader.join(",");
