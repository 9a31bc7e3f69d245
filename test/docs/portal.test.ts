import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, type TestContext } from "../support/app.ts";

/** The portal's HTTP behaviour, in process: redirects, headers, caching, 404s. (The browser test renders it.) */
describe("the developer portal over HTTP", () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext("embedded");
  }, 60_000);
  afterAll(async () => {
    await ctx?.close();
  });

  it("sends /developers to the visitor's language", async () => {
    const spanish = await ctx.request("/developers", { headers: { "accept-language": "es-MX,es;q=0.9" } });
    expect(spanish.status).toBe(302);
    expect(spanish.headers.get("location")).toBe("/developers/es/");
    const english = await ctx.request("/developers/", { headers: { "accept-language": "en-GB" } });
    expect(english.headers.get("location")).toBe("/developers/en/");
    expect((await ctx.request("/developers/en")).headers.get("location")).toBe("/developers/en/");
  });

  it("sends a problem type URI without language to the errors guide", async () => {
    const response = await ctx.request("/developers/errors", { headers: { "accept-language": "en" } });
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe("/developers/en/errors");
  });

  it("serves guides as HTML with a strict content security policy", async () => {
    const response = await ctx.request("/developers/es/errors");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/html");
    const csp = response.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    const html = await response.text();
    expect(html).toContain('<html lang="es">');
    expect(html).toContain('id="validation-failed"');
    expect(html).toContain('href="/developers/en/errors"');
  });

  it("answers unknown pages with an HTML 404 in the portal's layout", async () => {
    for (const path of ["/developers/en/no-such-guide", "/developers/fr/errors", "/developers/en/x/y"]) {
      const response = await ctx.request(path);
      expect(response.status, path).toBe(404);
      expect(await response.text(), path).toContain('<nav class="sidebar"');
    }
  });

  it("serves its assets compressed, cacheable and revalidatable", async () => {
    const page = await (await ctx.request("/developers/en/reference")).text();
    const scalarHref = /src="(\/developers\/assets\/scalar\.js\?v=[^"]+)"/.exec(page)?.[1];
    expect(scalarHref).toBeDefined();
    const script = await ctx.request(scalarHref!, { headers: { "accept-encoding": "gzip, br" } });
    expect(script.status).toBe(200);
    expect(script.headers.get("content-encoding")).toBe("gzip");
    expect(script.headers.get("cache-control")).toContain("immutable");
    expect(gunzipSync(Buffer.from(await script.arrayBuffer())).toString("utf8")).toContain(
      "createApiReference",
    );
    const etag = script.headers.get("etag")!;
    const again = await ctx.request(scalarHref!, { headers: { "if-none-match": etag } });
    expect(again.status).toBe(304);
    const cssHref = /href="(\/developers\/assets\/portal\.css\?v=[^"]+)"/.exec(page)?.[1];
    const css = await ctx.request(cssHref!);
    expect(css.headers.get("content-type")).toContain("text/css");
    expect((await css.text()).length).toBeLessThan(12_000);
  });

  it("lists every operation on the reference page for readers without JavaScript", async () => {
    const html = await (await ctx.request("/developers/es/reference")).text();
    const document = (await (await ctx.request("/openapi.json")).json()) as { paths: Record<string, object> };
    for (const path of Object.keys(document.paths)) expect(html).toContain(`<code>${path}</code>`);
    expect(html).toContain("<noscript>");
  });
});
