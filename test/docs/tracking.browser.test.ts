import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { orderBody } from "../support/app.ts";
import { hasChromium, launchChromium } from "./chromium.ts";
import { type RunningServer, repoRoot, startServer } from "./server.ts";

/**
 * An order's tracking_url opened the way its recipient opens it: in the machine's Chromium (never a downloaded one),
 * on a phone-sized screen. The page must render the status with its stylesheet applied, with no console error (a
 * Content-Security-Policy violation is one) and no request leaving the server. Screenshots go to
 * test-results/tracking/.
 */
const screenshots = resolve(repoRoot, "test-results/tracking");

describe.skipIf(!hasChromium)("the tracking page in headless Chromium", () => {
  let server: RunningServer;
  let browser: Browser;
  let trackingUrl: string;
  beforeAll(async () => {
    mkdirSync(screenshots, { recursive: true });
    server = await startServer({ name: "tracking-browser" });
    const { apiKey, opsKey } = await server.newTenant();
    const created = await fetch(`${server.url}/v1/orders/create`, {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
      body: JSON.stringify(orderBody()),
    });
    const order = (await created.json()) as { id: string; tracking_url: string };
    trackingUrl = order.tracking_url;
    const assigned = await fetch(`${server.url}/v1/orders/${order.id}/assign-driver`, {
      method: "POST",
      headers: { authorization: `Bearer ${opsKey}`, "content-type": "application/json" },
      body: JSON.stringify({ driver: { id: "drv_7", name: "Carlos Restrepo", vehicle_plate: "KLM-482" } }),
    });
    expect(assigned.status).toBe(200);
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it.each([
    ["es-CO", "Conductor asignado"],
    ["en-US", "Driver assigned"],
  ])(
    "%s: the tracking_url renders the status, styled, without console errors or external requests",
    async (locale, status) => {
      expect(trackingUrl.startsWith(`${server.url}/v1/tracking/`)).toBe(true);
      const context = await browser.newContext({
        locale,
        viewport: { width: 390, height: 844 },
        isMobile: true,
      });
      const page = await context.newPage();
      const consoleErrors: string[] = [];
      const external: string[] = [];
      page.on("console", (message) => {
        if (message.type() === "error") consoleErrors.push(message.text());
      });
      page.on("pageerror", (error) => consoleErrors.push(`uncaught: ${error.message}`));
      await page.route("**/*", (route) => {
        const url = route.request().url();
        if (url.startsWith(server.url) || url.startsWith("data:")) return route.continue();
        external.push(url);
        return route.abort();
      });
      const response = await page.goto(trackingUrl);
      expect(response?.status()).toBe(200);
      expect(response?.headers()["content-type"]).toBe("text/html; charset=utf-8");
      expect((await page.textContent("h1"))?.trim()).toBe(status);
      expect(await page.textContent("main")).toContain("Carlos · KLM-482");
      expect(await page.$$eval("ol li", (items) => items.length)).toBe(2);
      // The inline stylesheet passed the CSP (its hash matches): the page background is the stylesheet's.
      expect(await page.$eval("body", (body) => getComputedStyle(body).backgroundColor)).toBe(
        "rgb(245, 247, 250)",
      );
      // Fits a phone: nothing wider than the screen.
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await page.screenshot({ path: resolve(screenshots, `${locale}.png`), fullPage: true });
      expect(consoleErrors).toEqual([]);
      expect(external).toEqual([]);
      await context.close();
    },
    60_000,
  );
});
