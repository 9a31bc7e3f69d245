import type { App } from "../../http/context.ts";
import { buildOpenApiDocument, type OpenApiDocument } from "./openapi-document.ts";

/** The API version in `info.version`; the versioning guide's changelog lists what changed in each. */
export const apiVersion = "1.2.1";

/** The base URL the committed `docs/api/openapi.yaml` is written for (production). */
export const productionBaseUrl = "https://api.cellvi.com";

/**
 * The app's document for one base URL, built once: routes are all registered before the first request, and
 * building walks every schema, which is too slow to repeat per request.
 */
export function documentFor(app: App): (baseUrl: string) => OpenApiDocument {
  const built = new Map<string, OpenApiDocument>();
  return (baseUrl) => {
    let document = built.get(baseUrl);
    if (!document) {
      document = buildOpenApiDocument(app, { baseUrl, version: apiVersion });
      built.set(baseUrl, document);
    }
    return document;
  };
}
