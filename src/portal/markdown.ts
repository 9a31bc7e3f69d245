import type { Element, ElementContent, Root as HastRoot } from "hast";
import { toHtml } from "hast-util-to-html";
import type { Code, Heading, Link, Nodes, Root } from "mdast";
import { fromMarkdown } from "mdast-util-from-markdown";
import { gfmFromMarkdown } from "mdast-util-gfm";
import { toHast } from "mdast-util-to-hast";
import { gfm } from "micromark-extension-gfm";

/**
 * Guides are CommonMark + GitHub tables, rendered on the server: mdast -> our adjustments -> hast -> HTML. Raw
 * HTML in a guide is not passed through (`toHast` drops it), so a guide cannot inject markup.
 */
export interface RenderedGuide {
  title: string;
  html: string;
  /** The page's second-level headings, for its "on this page" list. */
  headings: { id: string; text: string }[];
  /** The fenced code blocks in order, with their language (`bash` blocks are executed by the docs test). */
  codeBlocks: { lang: string; code: string }[];
}

/**
 * Heading ids: lower case, accents dropped, anything else a hyphen. `validation_failed` becomes
 * `validation-failed`, the fragment the problem `type` URIs point at (see problemType in src/http/problem.ts).
 */
export function slugify(text: string): string {
  return text
    .normalize("NFD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
}

function plainText(node: Nodes): string {
  if ("value" in node && typeof node.value === "string") return node.value;
  if ("children" in node) return (node.children as Nodes[]).map(plainText).join("");
  return "";
}

function walk(node: Nodes, visit: (node: Nodes) => void): void {
  visit(node);
  if ("children" in node) for (const child of node.children as Nodes[]) walk(child, visit);
}

export interface RenderOptions {
  /** Maps a link to another guide (`webhooks.md#retries`) to its portal URL. */
  guideHref(slug: string, fragment: string): string;
}

export function renderMarkdown(source: string, options: RenderOptions): RenderedGuide {
  const tree: Root = fromMarkdown(source, { extensions: [gfm()], mdastExtensions: [gfmFromMarkdown()] });
  let title = "";
  const headings: RenderedGuide["headings"] = [];
  const codeBlocks: RenderedGuide["codeBlocks"] = [];
  const used = new Map<string, number>();

  // The first `# Title` is the page title (shown by the layout, not repeated in the body).
  const first = tree.children[0];
  if (first?.type === "heading" && first.depth === 1) {
    title = plainText(first);
    tree.children.shift();
  }

  walk(tree, (node) => {
    if (node.type === "heading") {
      const heading = node as Heading;
      const text = plainText(heading);
      let id = slugify(text) || "section";
      const seen = used.get(id) ?? 0;
      used.set(id, seen + 1);
      if (seen > 0) id = `${id}-${seen}`;
      heading.data = { ...heading.data, hProperties: { id } };
      if (heading.depth === 2) headings.push({ id, text });
    } else if (node.type === "code") {
      const code = node as Code;
      codeBlocks.push({ lang: code.lang ?? "", code: code.value });
    } else if (node.type === "link") {
      const link = node as Link;
      const match = /^(?:\.\/)?([a-z0-9-]+)\.md(#.*)?$/.exec(link.url);
      if (match) link.url = options.guideHref(match[1]!, match[2] ?? "");
    }
  });

  const hast = toHast(tree) as HastRoot;
  decorate(hast);
  return { title, html: toHtml(hast), headings, codeBlocks };
}

/** Wide tables scroll inside their own box; code blocks are labelled with their language for readers. */
function decorate(node: HastRoot | Element): void {
  const children = node.children as ElementContent[];
  for (let i = 0; i < children.length; i++) {
    const child = children[i]!;
    if (child.type !== "element") continue;
    if (child.tagName === "table") {
      children[i] = {
        type: "element",
        tagName: "div",
        properties: { className: ["table-scroll"], tabIndex: 0, role: "region", ariaLabel: "table" },
        children: [child],
      };
      continue;
    }
    if (child.tagName === "pre") {
      const code = child.children[0];
      const className = code?.type === "element" ? code.properties.className : undefined;
      const language = Array.isArray(className)
        ? String(className.find((name) => String(name).startsWith("language-")) ?? "").replace(
            "language-",
            "",
          )
        : "";
      if (language) child.properties = { ...child.properties, dataLang: language };
      // Keyboard users can scroll a long line of code.
      child.properties = { ...child.properties, tabIndex: 0 };
      continue;
    }
    decorate(child);
  }
}
