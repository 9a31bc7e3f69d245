import { createRoute } from "@hono/zod-openapi";
import { mapIdoc, parseIdocXml } from "../../domain/connectors/sap-idoc.ts";
import { authenticate } from "../../http/auth.ts";
import type { App } from "../../http/context.ts";
import { ApiError, errorResponses } from "../../http/problem.ts";
import { ImportQuery, ImportWithResultsSchema, importDefaults, importDocument } from "./imports-shared.ts";

export const importSapIdocRoute = createRoute({
  method: "post",
  path: "/v1/imports/sap-idoc",
  tags: ["Orders"],
  operationId: "importOrdersSapIdoc",
  summary: "Import SAP IDoc ORDERS05 (XML)",
  description:
    "An ORDERS05 IDoc in XML, as SAP PI/PO or an XML file port sends it; each `IDOC` element is one order. external_id is the SAP document number (`E1EDK01/BELNR`); the ship-to is the `E1EDKA1` partner with `PARVW=WE`; each item `E1EDP01` is one package weighing `BRGEW` (else `NTGEW`) in `GEWEI` (KGM, GRM, LBR, ONZ, TNE). The customer PO (`E1EDK02` with `QUALF=001`) and the IDoc number go to metadata. One result per IDoc, with error paths like `IDOC 1/E1EDKA1[PARVW=WE]/ORT01`. Re-sending an IDoc is safe: its external_id makes it a duplicate.",
  security: [{ ApiKey: [] }],
  middleware: [authenticate("orders:write")] as const,
  request: {
    query: ImportQuery,
    body: {
      required: true,
      content: {
        "application/xml": {
          schema: { type: "string" },
          example: '<ORDERS05><IDOC BEGIN="1">...</IDOC></ORDERS05>',
        },
        "text/xml": { schema: { type: "string" } },
      },
    },
  },
  responses: {
    200: {
      description: "One result per IDoc",
      content: { "application/json": { schema: ImportWithResultsSchema } },
    },
    ...errorResponses(
      "validation_failed",
      "unauthorized",
      "forbidden",
      "payload_too_large",
      "unsupported_media_type",
      "quota_exceeded",
      "internal_error",
    ),
  },
});

export function registerImportSapIdoc(app: App): void {
  app.openapi(importSapIdocRoute, async (c) => {
    const services = c.var.services;
    const scope = { tenantId: c.var.auth.tenantId, mode: c.var.auth.mode };
    const defaults = importDefaults(c.req.valid("query"));
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    let xml: string;
    try {
      xml = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      throw new ApiError("validation_failed", "The IDoc is not UTF-8.", {
        errors: [{ path: "/", message: "not UTF-8" }],
      });
    }
    const parsed = parseIdocXml(xml);
    if (!parsed.ok)
      throw new ApiError("validation_failed", "The body is not an ORDERS05 IDoc in XML.", {
        errors: parsed.errors,
      });
    const items = parsed.idocs.map((idoc, index) => ({
      location: { index },
      outcome: mapIdoc(idoc, index, { defaults }),
    }));
    return c.json(await importDocument(services, scope, "sap_idoc", items, bytes.length), 200);
  });
}
