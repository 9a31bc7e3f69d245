import type { App } from "../../http/context.ts";
import { documentFor } from "./document-cache.ts";
import { registerPortalRoutes } from "./portal.ts";

/**
 * GET /openapi.json and /openapi.yaml (the document for this deployment's public base URL) and the developer
 * portal. Plain routes, not OpenAPI operations: the document does not describe itself.
 */
export function registerDocsRoutes(app: App): void {
  const documentOf = documentFor(app);
  const yamlOf = new Map<string, string>();
  // Tools import the document by URL (Postman, editors, code generators), from any origin: it is public.
  app.get("/openapi.json", (c) => {
    c.header("access-control-allow-origin", "*");
    c.header("cache-control", "public, max-age=60");
    return c.json(documentOf(c.var.services.config.publicBaseUrl));
  });
  app.get("/openapi.yaml", async (c) => {
    c.header("access-control-allow-origin", "*");
    c.header("cache-control", "public, max-age=60");
    c.header("content-type", "application/yaml; charset=utf-8");
    const baseUrl = c.var.services.config.publicBaseUrl;
    let yaml = yamlOf.get(baseUrl);
    if (yaml === undefined) {
      // Loaded on first use: see document-yaml.ts.
      const { documentYaml } = await import("./document-yaml.ts");
      yaml = documentYaml(documentOf(baseUrl));
      yamlOf.set(baseUrl, yaml);
    }
    return c.body(yaml);
  });
  registerPortalRoutes(app, documentOf);
}
