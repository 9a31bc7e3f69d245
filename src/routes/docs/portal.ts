import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { promisify } from "node:util";
import { gzip, gzipSync } from "node:zlib";
import type { Context } from "hono";
import type { App, AppEnv } from "../../http/context.ts";
import type { GuideLibrary } from "../../portal/guides.ts";
import { isLanguage, type Language, languages, preferredLanguage, ui } from "../../portal/i18n.ts";
import { escapeHtml, pageHref, renderPage } from "../../portal/layout.ts";
import { postmanCollection } from "../../portal/postman.ts";
import { referenceBody } from "../../portal/reference.ts";
import { projectPath } from "../../project-root.ts";
import { apiVersion } from "./document-cache.ts";
import type { OpenApiDocument } from "./openapi-document.ts";

/**
 * The developer portal at /developers: server-rendered guides in Spanish and English (`/developers/<lang>/<slug>`),
 * the API reference, and the assets they need, all served by the service itself so the portal works offline.
 */

interface Asset {
  body: Uint8Array;
  gzip: Uint8Array | null;
  type: string;
  etag: string;
}

function asset(body: Uint8Array, type: string, compress: boolean): Asset {
  const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`;
  return { body, gzip: compress ? gzipSync(body, { level: 9 }) : null, type, etag };
}

const require = createRequire(import.meta.url);

/**
 * Scalar's offline bundle, read from the installed package (no CDN). It is 3.5 MB, so it is compressed once, off
 * the event loop, when first asked for; a missing package yields null (the reference page then lists operations).
 */
async function loadScalar(): Promise<Asset | null> {
  let body: Buffer;
  try {
    body = readFileSync(require.resolve("@scalar/api-reference/browser/standalone.js"));
  } catch {
    return null;
  }
  const compressed = await promisify(gzip)(body, { level: 9 });
  return { ...asset(body, "text/javascript; charset=utf-8", false), gzip: compressed };
}

function loadOwnAsset(name: string, type: string): Asset {
  return asset(readFileSync(projectPath(`src/portal/assets/${name}`)), type, true);
}

function sendAsset(c: Context<AppEnv>, file: Asset, immutable: boolean): Response {
  const headers = new Headers({
    "content-type": file.type,
    etag: file.etag,
    "cache-control": immutable ? "public, max-age=31536000, immutable" : "public, max-age=300",
    vary: "accept-encoding",
  });
  if (c.req.header("if-none-match") === file.etag) return new Response(null, { status: 304, headers });
  const gzip = file.gzip && /\bgzip\b/.test(c.req.header("accept-encoding") ?? "");
  if (gzip) headers.set("content-encoding", "gzip");
  return new Response((gzip ? file.gzip : file.body) as BodyInit, { status: 200, headers });
}

/**
 * Pages allow only the service's own scripts; styles may be inline because Scalar injects its styles at run time.
 * `connect-src` lets the interactive reference send requests to the API's public address.
 */
function contentSecurityPolicy(publicBaseUrl: string): string {
  const api = new URL(publicBaseUrl).origin;
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    `connect-src 'self' ${api}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
  ].join("; ");
}

export function registerPortalRoutes(app: App, documentOf: (baseUrl: string) => OpenApiDocument): void {
  // Read and rendered on first use, not at app creation: building an app (tests, the OpenAPI generator) does no
  // file I/O, and the Markdown and HTML renderers (about 14 MiB) are loaded only by a process that serves the
  // portal. A failed load is retried by the next request.
  let library: Promise<GuideLibrary> | null = null;
  const guides = () => {
    library ??= import("../../portal/guides.ts")
      .then(({ GuideLibrary }) => new GuideLibrary())
      .catch((error: unknown) => {
        library = null;
        throw error;
      });
    return library;
  };
  let css: Asset | null = null;
  const cssAsset = () => {
    css ??= loadOwnAsset("portal.css", "text/css; charset=utf-8");
    return css;
  };
  let referenceScript: Asset | null = null;
  let scalarLoading: Promise<Asset | null> | null = null;
  const scalarAsset = () => {
    scalarLoading ??= loadScalar();
    return scalarLoading;
  };
  const cssHref = () => `/developers/assets/portal.css?v=${cssAsset().etag.slice(1, 9)}`;

  const html = (c: Context<AppEnv>, body: string, status: 200 | 404 = 200) => {
    c.header("content-security-policy", contentSecurityPolicy(c.var.services.config.publicBaseUrl));
    c.header("cache-control", "public, max-age=60");
    return c.html(body, status);
  };

  const notFound = async (c: Context<AppEnv>, lang: Language) => {
    const t = ui[lang];
    return html(
      c,
      renderPage({
        lang,
        // No page of that name exists in any language: the switch leads to the other language's home.
        slug: "not-found",
        title: t.notFound,
        body: `<article><h1>${escapeHtml(t.notFound)}</h1><p><a href="${pageHref(lang, "index")}">${escapeHtml(t.notFoundText)}</a></p></article>`,
        library: await guides(),
        cssHref: cssHref(),
        apiVersion,
        availableIn: [],
      }),
      404,
    );
  };

  const guidePage = async (c: Context<AppEnv>, lang: Language, slug: string) => {
    const library = await guides();
    const guide = library.get(lang, slug);
    if (!guide) return notFound(c, lang);
    const t = ui[lang];
    const order = library.slugs(lang);
    const index = order.indexOf(slug);
    const previous = index > 0 ? library.get(lang, order[index - 1]!) : undefined;
    const next = index >= 0 && index < order.length - 1 ? library.get(lang, order[index + 1]!) : undefined;
    const toc =
      guide.headings.length >= 3
        ? `<nav class="toc" aria-label="${escapeHtml(t.onThisPage)}"><h2>${escapeHtml(t.onThisPage)}</h2><ul>${guide.headings
            .map((heading) => `<li><a href="#${heading.id}">${escapeHtml(heading.text)}</a></li>`)
            .join("")}</ul></nav>`
        : "";
    const pager = `<nav class="pager" aria-label="${escapeHtml(`${t.previous} / ${t.next}`)}">${
      previous
        ? `<a rel="prev" href="${pageHref(lang, previous.slug)}">← ${escapeHtml(previous.title)}</a>`
        : "<span></span>"
    }${next ? `<a rel="next" href="${pageHref(lang, next.slug)}">${escapeHtml(next.title)} →</a>` : ""}</nav>`;
    return html(
      c,
      renderPage({
        lang,
        slug,
        title: guide.title,
        body: `<article><h1>${escapeHtml(guide.title)}</h1>${toc}${guide.html}</article>${pager}`,
        library,
        cssHref: cssHref(),
        apiVersion,
        availableIn: languages.filter((candidate) => library.get(candidate, slug)),
      }),
    );
  };

  app.get("/developers", (c) =>
    c.redirect(pageHref(preferredLanguage(c.req.header("accept-language")), "index")),
  );
  app.get("/developers/", (c) =>
    c.redirect(pageHref(preferredLanguage(c.req.header("accept-language")), "index")),
  );

  app.get("/developers/assets/portal.css", (c) => sendAsset(c, cssAsset(), c.req.query("v") !== undefined));
  app.get("/developers/assets/reference.js", (c) => {
    referenceScript ??= loadOwnAsset("reference.js", "text/javascript; charset=utf-8");
    return sendAsset(c, referenceScript, false);
  });
  app.get("/developers/assets/scalar.js", async (c) => {
    const scalar = await scalarAsset();
    if (!scalar) return c.text("The API reference bundle is not installed (@scalar/api-reference).", 404);
    return sendAsset(c, scalar, c.req.query("v") !== undefined);
  });

  app.get("/developers/postman.json", (c) => {
    const collection = postmanCollection(documentOf(c.var.services.config.publicBaseUrl));
    c.header("content-disposition", 'attachment; filename="cellvi-connect.postman_collection.json"');
    c.header("cache-control", "public, max-age=60");
    return c.json(collection);
  });

  // Languages are checked in the handlers rather than with a route regex, which Hono's router would not anchor.
  app.get("/developers/:lang/", (c) => {
    const lang = c.req.param("lang");
    return isLanguage(lang) ? guidePage(c, lang, "index") : notFound(c, "es");
  });
  app.get("/developers/:lang/reference", async (c) => {
    const lang = c.req.param("lang");
    if (!isLanguage(lang)) return notFound(c, "es");
    const scalar = await scalarAsset();
    // The file's own hash versions its URL, so browsers cache the 3.5 MB bundle until it changes.
    const head = scalar
      ? `<script src="/developers/assets/scalar.js?v=${scalar.etag.slice(1, 9)}" defer></script>\n<script src="/developers/assets/reference.js" defer></script>`
      : "";
    return html(
      c,
      renderPage({
        lang,
        slug: "reference",
        title: ui[lang].apiReference,
        body: referenceBody(lang, documentOf(c.var.services.config.publicBaseUrl), scalar !== null),
        library: await guides(),
        cssHref: cssHref(),
        apiVersion,
        availableIn: languages,
        wide: true,
        head,
      }),
    );
  });
  app.get("/developers/:lang/:slug", (c) => {
    const lang = c.req.param("lang");
    return isLanguage(lang) ? guidePage(c, lang, c.req.param("slug")) : notFound(c, "es");
  });
  // A page without a language (e.g. the `type` URI of a problem, /developers/errors#not-found) goes to the
  // visitor's language; the fragment survives the redirect.
  app.get("/developers/:slug", async (c) => {
    const lang = preferredLanguage(c.req.header("accept-language"));
    const slug = c.req.param("slug");
    if (isLanguage(slug)) return c.redirect(pageHref(slug, "index"), 301);
    if (slug !== "reference" && !(await guides()).get(lang, slug)) return notFound(c, lang);
    return c.redirect(pageHref(lang, slug));
  });
  app.get("/developers/*", (c) => notFound(c, preferredLanguage(c.req.header("accept-language"))));
}
