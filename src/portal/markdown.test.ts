import { describe, expect, it } from "vitest";
import { renderMarkdown, slugify } from "./markdown.ts";

const render = (source: string) =>
  renderMarkdown(source, { guideHref: (slug, fragment) => `/developers/en/${slug}${fragment}` });

describe("renderMarkdown", () => {
  it("takes the first # heading as the title and gives every heading an id", () => {
    const page = render("# Errors\n\nIntro.\n\n## The codes\n\n### validation_failed\n\n### Autenticación\n");
    expect(page.title).toBe("Errors");
    expect(page.html).not.toContain("<h1");
    expect(page.html).toContain('<h2 id="the-codes">');
    expect(page.html).toContain('<h3 id="validation-failed">');
    expect(page.html).toContain('<h3 id="autenticacion">');
    expect(page.headings).toEqual([{ id: "the-codes", text: "The codes" }]);
  });

  it("keeps repeated headings unique", () => {
    expect(render("## Step\n\n## Step\n").html).toContain('id="step-1"');
  });

  it("rewrites links to other guides and leaves others alone", () => {
    const page = render(
      "[a](webhooks.md#retries) [b](./errors.md) [c](https://example.com/x.md) [d](/openapi.yaml)",
    );
    expect(page.html).toContain('href="/developers/en/webhooks#retries"');
    expect(page.html).toContain('href="/developers/en/errors"');
    expect(page.html).toContain('href="https://example.com/x.md"');
    expect(page.html).toContain('href="/openapi.yaml"');
  });

  it("collects code blocks with their language and labels them", () => {
    const page = render('```bash\ncurl -sS "$CELLVI_URL/healthz"\n```\n\n```json\n{}\n```\n');
    expect(page.codeBlocks).toEqual([
      { lang: "bash", code: 'curl -sS "$CELLVI_URL/healthz"' },
      { lang: "json", code: "{}" },
    ]);
    expect(page.html).toContain('data-lang="bash"');
  });

  it("renders tables in a scrollable region and drops raw HTML", () => {
    const page = render("| a | b |\n| --- | --- |\n| 1 | 2 |\n\n<script>alert(1)</script>\n");
    expect(page.html).toContain('<div class="table-scroll"');
    expect(page.html).toContain("<table>");
    expect(page.html).not.toContain("<script");
  });
});

describe("slugify", () => {
  it("matches the fragment of problem type URIs", () => {
    expect(slugify("idempotency_key_reused")).toBe("idempotency-key-reused");
    expect(slugify("¿Reintentar o corregir?")).toBe("reintentar-o-corregir");
  });
});
