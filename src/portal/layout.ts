import type { GuideLibrary } from "./guides.ts";
import { type Language, languages, ui } from "./i18n.ts";

/** Escapes text for HTML element content and double-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

/** The portal URL of a page: the index is the language's root. */
export function pageHref(lang: Language, slug: string): string {
  return `/developers/${lang}/${slug === "index" ? "" : slug}`;
}

export interface PageInput {
  lang: Language;
  /** The page's slug (`index`, a guide's, or `reference`): the language switch keeps it. */
  slug: string;
  title: string;
  body: string;
  library: GuideLibrary;
  cssHref: string;
  apiVersion: string;
  /** Extra elements for <head> (the reference page's script). */
  head?: string;
  /** The page exists in these languages (the switch falls back to the other language's home otherwise). */
  availableIn: readonly Language[];
  wide?: boolean;
}

export function renderPage(input: PageInput): string {
  const { lang, slug, library } = input;
  const t = ui[lang];
  const other = languages.find((candidate) => candidate !== lang)!;
  const otherHref = input.availableIn.includes(other) ? pageHref(other, slug) : pageHref(other, "index");
  const nav = library
    .navigation(lang)
    .map(
      (section) =>
        `<h2>${escapeHtml(section.title)}</h2><ul>${section.guides
          .map((guide) => navLink(pageHref(lang, guide.slug), guide.title, guide.slug === slug))
          .join("")}</ul>`,
    )
    .join("");
  const referenceNav = `<h2>${escapeHtml(t.reference)}</h2><ul>${navLink(pageHref(lang, "reference"), t.apiReference, slug === "reference")}<li><a href="/openapi.yaml">OpenAPI (YAML)</a></li><li><a href="/openapi.json">OpenAPI (JSON)</a></li><li><a href="/developers/postman.json" download>${escapeHtml(t.postman)}</a></li></ul>`;
  const alternates = input.availableIn
    .map(
      (candidate) =>
        `<link rel="alternate" hreflang="${candidate}" href="${escapeHtml(pageHref(candidate, slug))}">`,
    )
    .join("");
  return `<!doctype html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(input.title)} · CELLVI Connect</title>
<meta name="description" content="${escapeHtml(`CELLVI Connect: ${input.title}`)}">
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${escapeHtml(input.cssHref)}">
${alternates}
${input.head ?? ""}
</head>
<body>
<a class="skip" href="#main">${escapeHtml(t.skip)}</a>
<header class="top">
<a class="brand" href="${pageHref(lang, "index")}">CELLVI Connect <span>${escapeHtml(t.portal)}</span></a>
<a class="lang-switch" href="${escapeHtml(otherHref)}" hreflang="${other}" lang="${other}" title="${escapeHtml(t.switchTo)}">${escapeHtml(ui[other].languageName)}</a>
</header>
<div class="layout${input.wide ? " wide" : ""}">
<nav class="sidebar" aria-label="${escapeHtml(t.guides)}">${nav}${referenceNav}</nav>
<main id="main" tabindex="-1">
${input.body}
</main>
</div>
<footer class="bottom"><p>${escapeHtml(t.version)} ${escapeHtml(input.apiVersion)} · ${escapeHtml(t.sandboxNote)}</p></footer>
</body>
</html>
`;
}

function navLink(href: string, text: string, current: boolean): string {
  return `<li><a href="${escapeHtml(href)}"${current ? ' aria-current="page"' : ""}>${escapeHtml(text)}</a></li>`;
}
