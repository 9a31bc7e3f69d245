import { XMLParser, XMLValidator } from "fast-xml-parser";
import {
  addPackages,
  applyDefaults,
  isObject,
  type JsonObject,
  joinText,
  type MapOutcome,
  type MappingDefaults,
  type MappingError,
  OrderDraft,
  type ShipLine,
  textAt,
} from "./mapping.ts";

/**
 * SAP IDoc ORDERS05 in XML (as SAP PI/PO or an XML file port sends it) -> one order per `IDOC` element.
 *
 * - external_id: `E1EDK01/BELNR`, the SAP document number (unique in the sending system). The customer's purchase
 *   order (`E1EDK02` with `QUALF=001`) and the IDoc number (`EDI_DC40/DOCNUM`, new on every resend, so useless for
 *   de-duplication) are kept in metadata.
 * - Ship-to: the `E1EDKA1` partner with `PARVW=WE` (NAME1/NAME2, STRAS + HAUSN, STRS2, ORT01, PSTLZ, REGIO, LAND1,
 *   TELF1). The sold-to partner (`AG`) only goes to metadata.
 * - Items: each `E1EDP01` is one package, weighing its gross weight `BRGEW` (else the net `NTGEW`) in the unit
 *   `GEWEI` (KGM kilograms, GRM grams; LBR, ONZ, TNE too); described by the `E1EDP19` short text or material number.
 */

export type IdocParse = { ok: true; idocs: JsonObject[] } | { ok: false; errors: MappingError[] };

const segmentArrays = new Set([
  "IDOC",
  "E1EDK02",
  "E1EDKA1",
  "E1EDP01",
  "E1EDP19",
  "E1EDKT1",
  "E1EDKT2",
  "E1EDK01",
]);

const parser = new XMLParser({
  ignoreAttributes: true,
  // Everything stays text: POSEX "000010" and postal codes like "080020" must keep their leading zeros.
  parseTagValue: false,
  trimValues: true,
  isArray: (name) => segmentArrays.has(name),
});

/** Parses the XML document and returns its IDOC elements, or says what is wrong with it (line and column). */
export function parseIdocXml(xml: string): IdocParse {
  // IDocs never carry a DTD; refusing one rules out entity expansion tricks before the parser sees them.
  if (/<!DOCTYPE/i.test(xml)) {
    return { ok: false, errors: [{ path: "/", message: "a DOCTYPE is not allowed in an IDoc document" }] };
  }
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    return {
      ok: false,
      errors: [
        {
          path: `line ${valid.err.line}, column ${valid.err.col}`,
          message: `not well-formed XML: ${valid.err.msg}`,
        },
      ],
    };
  }
  const document = parser.parse(xml) as JsonObject;
  const rootName = Object.keys(document).find((name) => name !== "?xml");
  const root = rootName ? document[rootName] : undefined;
  const idocs = isObject(root) && Array.isArray(root.IDOC) ? root.IDOC.filter(isObject) : [];
  if (idocs.length === 0) {
    return {
      ok: false,
      errors: [
        {
          path: `/${rootName ?? ""}`,
          message: "no IDOC element found: expected <ORDERS05><IDOC>...</IDOC></ORDERS05>",
        },
      ],
    };
  }
  return { ok: true, idocs };
}

const weightUnits: Record<string, number> = {
  KGM: 1,
  GRM: 0.001,
  LBR: 0.45359237,
  ONZ: 0.028349523125,
  TNE: 1000,
};

function segments(parent: unknown, name: string): JsonObject[] {
  if (!isObject(parent)) return [];
  const value = parent[name];
  return Array.isArray(value) ? value.filter(isObject) : [];
}

export interface IdocMappingOptions {
  defaults: MappingDefaults;
}

/** Maps the `index`-th IDOC of a document; error paths start with `IDOC <n>/`. */
export function mapIdoc(idoc: JsonObject, index: number, options: IdocMappingOptions): MapOutcome {
  const label = `IDOC ${index + 1}`;
  const draft = new OrderDraft((source) => `${label}/${source}`);
  const header = segments(idoc, "E1EDK01")[0];
  const documentNumber = textAt(header, "BELNR");
  const control = isObject(idoc.EDI_DC40) ? idoc.EDI_DC40 : undefined;
  if (!documentNumber) {
    draft.missing("/external_id", "E1EDK01/BELNR", "the IDoc header has no document number");
    return draft.finish("");
  }
  draft.set("/external_id", documentNumber, "E1EDK01/BELNR");

  const partners = segments(idoc, "E1EDKA1");
  const shipTo = partners.find((partner) => textAt(partner, "PARVW") === "WE");
  const soldTo = partners.find((partner) => textAt(partner, "PARVW") === "AG");
  const we = "E1EDKA1[PARVW=WE]";
  if (!shipTo) {
    draft.fail(we, "destination is required: the IDoc has no ship-to partner (E1EDKA1 with PARVW=WE)");
  } else {
    draft.requireText(
      "/recipient/name",
      (() => {
        const name = joinText([textAt(shipTo, "NAME1"), textAt(shipTo, "NAME2")]);
        return name ? { value: name, source: `${we}/NAME1` } : undefined;
      })(),
      "NAME1 is empty",
      `${we}/NAME1`,
    );
    draft.requireText(
      "/recipient/phone",
      (() => {
        const phone = textAt(shipTo, "TELF1");
        return phone ? { value: phone, source: `${we}/TELF1` } : undefined;
      })(),
      "TELF1 is empty",
      `${we}/TELF1`,
    );
    const street = joinText([textAt(shipTo, "STRAS"), textAt(shipTo, "HAUSN")]);
    draft.requireText(
      "/destination/address_line1",
      street ? { value: street, source: `${we}/STRAS` } : undefined,
      "STRAS is empty",
      `${we}/STRAS`,
    );
    draft.set("/destination/address_line2", textAt(shipTo, "STRS2"), `${we}/STRS2`);
    const city = textAt(shipTo, "ORT01");
    draft.requireText(
      "/destination/city",
      city ? { value: city, source: `${we}/ORT01` } : undefined,
      "ORT01 is empty",
      `${we}/ORT01`,
    );
    draft.set("/destination/region", textAt(shipTo, "REGIO"), `${we}/REGIO`);
    draft.set("/destination/postal_code", textAt(shipTo, "PSTLZ"), `${we}/PSTLZ`);
    draft.country("/destination/country", textAt(shipTo, "LAND1"), `${we}/LAND1`);
  }

  const lines: ShipLine[] = [];
  for (const item of segments(idoc, "E1EDP01")) {
    const position = textAt(item, "POSEX") ?? String(lines.length + 1);
    const at = `E1EDP01[POSEX=${position}]`;
    const quantity = draft.number(textAt(item, "MENGE"), `${at}/MENGE`, "MENGE") ?? 1;
    const gross = draft.number(textAt(item, "BRGEW"), `${at}/BRGEW`, "BRGEW");
    const net = draft.number(textAt(item, "NTGEW"), `${at}/NTGEW`, "NTGEW");
    const weight = gross !== undefined && gross > 0 ? gross : net;
    const weightField = gross !== undefined && gross > 0 ? "BRGEW" : "NTGEW";
    let weightKg: number | undefined;
    if (weight !== undefined && weight > 0) {
      const unitCode = textAt(item, "GEWEI")?.toUpperCase();
      const factor = unitCode ? weightUnits[unitCode] : undefined;
      if (factor === undefined) {
        draft.fail(
          `${at}/GEWEI`,
          `packages.weight_kg: weight unit ${unitCode ? `"${unitCode}"` : "(empty)"} is not one of KGM, GRM, LBR, ONZ, TNE`,
        );
        // Already reported: keep the line from being reported again as weightless.
        weightKg = weight;
      } else {
        weightKg = weight * factor;
      }
    }
    const material =
      segments(item, "E1EDP19").find((id) => textAt(id, "QUALF") === "002") ?? segments(item, "E1EDP19")[0];
    lines.push({
      source: at,
      name: textAt(material, "KTEXT") ?? textAt(material, "IDTNR") ?? `position ${position}`,
      quantity,
      weightKg,
      weightSource: `${at}/${weightField}`,
      dimensionsCm: undefined,
    });
  }
  if (lines.length === 0) {
    draft.fail("E1EDP01", "packages: the IDoc has no items (E1EDP01)");
  } else {
    addPackages(draft, lines, options.defaults, {
      packaging: options.defaults.packaging ?? "per_line",
      linesSource: "E1EDP01",
    });
  }

  const notes = segments(idoc, "E1EDKT1")
    .flatMap((text) => segments(text, "E1EDKT2"))
    .map((line) => textAt(line, "TDLINE"))
    .filter((line): line is string => line !== undefined)
    .join("\n");
  if (notes) draft.set("/notes", notes.slice(0, 1000), "E1EDKT1/E1EDKT2/TDLINE");
  draft.set("/currency", textAt(header, "CURCY"), "E1EDK01/CURCY");
  applyDefaults(draft, options.defaults, "E1EDK01");
  const purchaseOrder = segments(idoc, "E1EDK02").find((reference) => textAt(reference, "QUALF") === "001");
  draft.metadata("source", "sap_idoc", "E1EDK01");
  draft.metadata("customer_po", textAt(purchaseOrder, "BELNR"), "E1EDK02[QUALF=001]/BELNR");
  draft.metadata("idoc_number", textAt(control, "DOCNUM"), "EDI_DC40/DOCNUM");
  draft.metadata("sold_to", textAt(soldTo, "PARTN"), "E1EDKA1[PARVW=AG]/PARTN");
  draft.metadata("ship_to", textAt(shipTo, "PARTN"), `${we}/PARTN`);
  return draft.finish(documentNumber);
}
