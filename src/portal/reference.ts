import { httpMethods, type OpenApiDocument } from "../routes/docs/openapi-document.ts";
import { type Language, ui } from "./i18n.ts";
import { escapeHtml } from "./layout.ts";

/**
 * The reference page: a server-rendered list of every operation and webhook event (readable without JavaScript,
 * and what search engines and screen readers get first), then the interactive Scalar reference, mounted by
 * /developers/assets/reference.js from the service's own copy of Scalar's standalone bundle. Without the bundle
 * (`interactive` false) the list is the page.
 */
export function referenceBody(lang: Language, document: OpenApiDocument, interactive: boolean): string {
  const t = ui[lang];
  const byTag = new Map<string, string[]>();
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of httpMethods) {
      const operation = item[method];
      if (!operation) continue;
      const tag = operation.tags?.[0] ?? "API";
      const line = `<li><span class="method">${method}</span> <code>${escapeHtml(path)}</code> ${escapeHtml(operation.summary ?? "")}</li>`;
      byTag.set(tag, [...(byTag.get(tag) ?? []), line]);
    }
  }
  const operations = [...byTag]
    .map(([tag, lines]) => `<h3>${escapeHtml(tag)}</h3><ul class="operations">${lines.join("")}</ul>`)
    .join("");
  const events = Object.entries(document["x-webhooks"] ?? {})
    .map(
      ([type, item]) =>
        `<li><code>${escapeHtml(type)}</code> ${escapeHtml(item.post?.summary?.replace(`${type}: `, "") ?? "")}</li>`,
    )
    .join("");
  return `<article>
<h1>${escapeHtml(t.apiReference)}</h1>
<p>${escapeHtml(t.referenceIntro)}</p>
<p>${escapeHtml(t.downloads)}: <a href="/openapi.yaml">openapi.yaml</a> · <a href="/openapi.json">openapi.json</a> · <a href="/developers/postman.json" download>${escapeHtml(t.postman)}</a></p>
${interactive ? "<noscript>" : ""}
<h2>${escapeHtml(t.operations)}</h2>
${operations}
<h2>${escapeHtml(t.webhookEvents)}</h2>
<ul class="operations">${events}</ul>
${interactive ? "</noscript>" : ""}
</article>
${interactive ? '<div id="api-reference-app" data-url="/openapi.json"></div>' : ""}`;
}
