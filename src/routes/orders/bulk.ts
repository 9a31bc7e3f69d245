import type { App } from "../../http/context.ts";
import { registerCreateOrdersBatch } from "./batch.ts";
import { registerImportCsv } from "./import-csv.ts";
import { registerImportDynamics } from "./import-dynamics.ts";
import { registerGetImport } from "./import-get.ts";
import { registerImportSapIdoc } from "./import-sap-idoc.ts";

/** Many orders at once, for ERPs: the JSON batch and the file imports (CSV, SAP IDoc, Dynamics 365 BC). */
export function registerBulkOrderRoutes(app: App): void {
  registerCreateOrdersBatch(app);
  // The document imports register the ImportWithResults schema the streamed CSV import refers to.
  registerImportSapIdoc(app);
  registerImportDynamics(app);
  registerImportCsv(app);
  registerGetImport(app);
}
