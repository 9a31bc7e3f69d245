import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorCodes } from "../../src/http/problem.ts";
import { GuideLibrary } from "../../src/portal/guides.ts";
import { languages } from "../../src/portal/i18n.ts";
import { slugify } from "../../src/portal/markdown.ts";
import { runBashBlocks } from "./run-bash.ts";
import { type RunningServer, startServer } from "./server.ts";

/**
 * The docs cannot rot: every ```bash block of every guide, in both languages, runs as written against a running
 * server (one bash session per page, with CELLVI_URL, CELLVI_API_KEY and CELLVI_OPS_KEY of a fresh test tenant).
 */
const library = new GuideLibrary();
const pages = library.all().filter((guide) => guide.codeBlocks.some((block) => block.lang === "bash"));

describe("the guides", () => {
  it("exist in both languages, page for page, each with a title", () => {
    const [first, second] = languages;
    expect(library.slugs(first).sort()).toEqual(library.slugs(second).sort());
    for (const guide of library.all()) {
      expect(guide.source.startsWith("# "), `${guide.lang}/${guide.slug}.md starts with # Title`).toBe(true);
    }
    for (const slug of ["index", "quickstart", "errors", "idempotency", "pagination", "versioning"]) {
      for (const lang of languages) expect(library.get(lang, slug), `${lang}/${slug}.md`).toBeDefined();
    }
  });

  it("say the same in both languages: the same sections and the same commands", () => {
    const [first, second] = languages;
    for (const slug of library.slugs(first)) {
      const a = library.get(first, slug)!;
      const b = library.get(second, slug);
      if (!b) continue;
      expect(b.headings.length, `${slug}.md sections`).toBe(a.headings.length);
      const bash = (guide: typeof a) => guide.codeBlocks.filter((block) => block.lang === "bash").length;
      expect(bash(b), `${slug}.md bash blocks`).toBe(bash(a));
    }
  });

  it("document every error code, with the anchor that problem `type` URIs point at", () => {
    for (const lang of languages) {
      const errors = library.get(lang, "errors")!;
      const anchors = new Set(errors.html.match(/id="[^"]+"/g)?.map((id) => id.slice(4, -1)));
      for (const code of errorCodes) {
        expect(anchors.has(slugify(code)), `${lang}/errors.md has a "### ${code}" section`).toBe(true);
        expect(slugify(code)).toBe(code.replaceAll("_", "-"));
      }
    }
  });

  it("link only to guides and anchors that exist", () => {
    for (const guide of library.all()) {
      for (const match of guide.html.matchAll(/href="(\/developers\/(es|en)\/([a-z0-9-]*))(#[^"]*)?"/g)) {
        const [, href, lang, slug, fragment] = match;
        const target = slug === "" ? "index" : slug!;
        if (target === "reference") continue;
        const page = library.get(lang as "es" | "en", target);
        // A guide owned by another feature may not have landed yet; the page must exist once it is linked.
        expect(page, `${guide.lang}/${guide.slug} links to ${href}`).toBeDefined();
        if (fragment && page) expect(page.html, `${href}${fragment}`).toContain(`id="${fragment.slice(1)}"`);
      }
    }
  });
});

describe("every bash block of every guide runs against a running server", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({ name: "guides" });
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
  });

  it.each(pages.map((guide) => [`${guide.lang}/${guide.slug}.md`, guide] as const))(
    "%s",
    async (_name, guide) => {
      const tenant = await server.newTenant(`Docs ${guide.lang}/${guide.slug}`);
      const blocks = guide.codeBlocks.filter((block) => block.lang === "bash").map((block) => block.code);
      const run = await runBashBlocks(blocks, {
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          LANG: "C.UTF-8",
          CELLVI_URL: server.url,
          CELLVI_API_KEY: tenant.apiKey,
          CELLVI_OPS_KEY: tenant.opsKey,
        },
        timeoutMs: 150_000,
      });
      expect(
        run.ok,
        `block ${run.failedBlock} of ${guide.lang}/${guide.slug}.md failed (exit ${run.exitCode}):\n${run.output}`,
      ).toBe(true);
    },
    180_000,
  );
});
