import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { languages } from "../../src/portal/i18n.ts";
import { hasChromium, launchChromium } from "./chromium.ts";
import { type RunningServer, repoRoot, startServer } from "./server.ts";

/**
 * The portal in a real browser: the machine's Chromium (never a downloaded one) loads every page reachable from
 * the navigation, in both languages, checks that each renders without console errors or requests leaving the
 * machine, that the language switch keeps the page, and that the interactive reference renders every operation.
 * Screenshots go to test-results/portal/.
 */
const screenshots = resolve(repoRoot, "test-results/portal");

interface PageReport {
  consoleErrors: string[];
  external: string[];
}

function watch(page: Page, origin: string): PageReport {
  const report: PageReport = { consoleErrors: [], external: [] };
  page.on("console", (message) => {
    if (message.type() === "error") report.consoleErrors.push(message.text());
  });
  page.on("pageerror", (error) => report.consoleErrors.push(`uncaught: ${error.message}`));
  // Offline means offline: any request to another host is refused and reported.
  void page.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(origin) || url.startsWith("data:") || url.startsWith("blob:")) return route.continue();
    report.external.push(url);
    return route.abort();
  });
  return report;
}

describe.skipIf(!hasChromium)("the developer portal in headless Chromium", () => {
  let server: RunningServer;
  let browser: Browser;
  beforeAll(async () => {
    mkdirSync(screenshots, { recursive: true });
    server = await startServer({ name: "browser" });
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it.each(languages)(
    "%s: every page of the navigation loads, without console errors or external requests",
    async (lang) => {
      const context = await browser.newContext({ locale: lang === "es" ? "es-CO" : "en-US" });
      const page = await context.newPage();
      const report = watch(page, server.url);
      // The entry point picks the visitor's language from the browser.
      await page.goto(`${server.url}/developers`);
      expect(new URL(page.url()).pathname).toBe(`/developers/${lang}/`);
      const links = await page.$$eval(`nav.sidebar a[href^='/developers/${lang}/']`, (anchors) =>
        anchors.map((a) => a.getAttribute("href")!).filter((href) => !href.endsWith("/reference")),
      );
      expect(links.length).toBeGreaterThanOrEqual(6);
      for (const href of links) {
        const response = await page.goto(`${server.url}${href}`);
        expect(response?.status(), href).toBe(200);
        expect(await page.getAttribute("html", "lang"), href).toBe(lang);
        const title = await page.textContent("main h1");
        expect(title?.trim().length, `${href} has a title`).toBeGreaterThan(0);
        expect(
          await page.$eval("nav.sidebar a[aria-current='page']", (a) => a.getAttribute("href")),
          href,
        ).toBe(href);
        // Basic accessibility: one h1, a working skip link, every link and code block reachable by name/keyboard.
        expect(await page.$$eval("h1", (headings) => headings.length), href).toBe(1);
        expect(await page.$eval("a.skip", (a) => a.getAttribute("href")), href).toBe("#main");
        const unnamed = await page.$$eval(
          "a",
          (anchors) =>
            anchors.filter((a) => !(a.textContent ?? "").trim() && !a.getAttribute("aria-label")).length,
        );
        expect(unnamed, `${href} links without text`).toBe(0);
        // The stylesheet applied (no JavaScript involved): the sidebar is laid out next to the content.
        expect(await page.$eval("main", (m) => getComputedStyle(m).paddingLeft), href).not.toBe("0px");
        const name =
          href
            .replace(/^\/developers\//, "")
            .replace(/\/$/, "")
            .replaceAll("/", "-") || lang;
        await page.screenshot({
          path: resolve(screenshots, `${name || `${lang}-index`}.png`),
          fullPage: true,
        });
      }
      // "Next" links walk the guides in navigation order from the first page to the last.
      await page.goto(`${server.url}/developers/${lang}/`);
      const walked = [new URL(page.url()).pathname];
      for (let i = 0; i < links.length && (await page.$("a[rel='next']")); i++) {
        await page.click("a[rel='next']");
        walked.push(new URL(page.url()).pathname);
      }
      expect(walked).toEqual(links);
      expect(report.consoleErrors).toEqual([]);
      expect(report.external).toEqual([]);
      await context.close();
    },
    120_000,
  );

  it("the language switch keeps the reader on the same page", async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/developers/es/errors#not-found`);
    await page.click("a.lang-switch");
    expect(new URL(page.url()).pathname).toBe("/developers/en/errors");
    expect(await page.getAttribute("html", "lang")).toBe("en");
    await page.click("a.lang-switch");
    expect(new URL(page.url()).pathname).toBe("/developers/es/errors");
    // A problem's `type` URI (no language in it) lands on the code's section.
    await page.goto(`${server.url}/developers/errors#validation-failed`);
    expect(new URL(page.url()).pathname).toMatch(/^\/developers\/(es|en)\/errors$/);
    expect(await page.isVisible("#validation-failed")).toBe(true);
    await page.close();
  });

  it.each(languages)(
    "%s: the interactive reference renders every operation, offline",
    async (lang) => {
      const spec = (await (await fetch(`${server.url}/openapi.json`)).json()) as {
        paths: Record<string, Record<string, { summary?: string }>>;
      };
      const summaries = Object.values(spec.paths).flatMap((item) =>
        Object.values(item).map((operation) => operation.summary!),
      );
      const page = await browser.newPage();
      const report = watch(page, server.url);
      await page.goto(`${server.url}/developers/${lang}/reference`);
      await page.waitForFunction(
        (expected) => {
          const text = document.querySelector("#api-reference-app")?.textContent ?? "";
          return expected.every((summary) => text.includes(summary));
        },
        summaries,
        { timeout: 60_000 },
      );
      const text = (await page.textContent("#api-reference-app")) ?? "";
      for (const summary of summaries) expect(text, `the reference shows "${summary}"`).toContain(summary);
      expect(text).toContain("ORDER_CREATED");
      await page.screenshot({ path: resolve(screenshots, `${lang}-reference.png`) });
      expect(report.consoleErrors).toEqual([]);
      expect(report.external).toEqual([]);
      await page.close();
    },
    120_000,
  );

  it("pages read without JavaScript: guides and the reference's operation list", async () => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(`${server.url}/developers/en/quickstart`);
    expect(await page.textContent("main h1")).toContain("Quickstart");
    expect(await page.$$eval("pre[data-lang='bash']", (blocks) => blocks.length)).toBeGreaterThanOrEqual(6);
    await page.goto(`${server.url}/developers/en/reference`);
    expect(await page.textContent("main")).toContain("/v1/orders/create");
    await page.screenshot({ path: resolve(screenshots, "en-reference-no-js.png"), fullPage: true });
    await context.close();
  });
});
