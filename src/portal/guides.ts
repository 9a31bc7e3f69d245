import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { projectPath } from "../project-root.ts";
import { type Language, languages, ui } from "./i18n.ts";
import { type RenderedGuide, renderMarkdown } from "./markdown.ts";

/** Where the guides live: `src/portal/guides/<lang>/<slug>.md`, first line `# Title`. */
export const guidesDirectory = projectPath("src/portal/guides/");

export interface Guide extends RenderedGuide {
  slug: string;
  lang: Language;
  source: string;
}

export interface NavSection {
  title: string;
  guides: { slug: string; title: string }[];
}

/**
 * The navigation is derived from the files present, in this order. A guide whose slug is not listed (a feature
 * added later) still appears, under "More", alphabetically: adding a page never needs a code change.
 */
const sections: { key: keyof (typeof ui)["en"]["sections"]; slugs: string[] }[] = [
  { key: "start", slugs: ["index", "quickstart"] },
  {
    key: "concepts",
    slugs: ["authentication", "errors", "idempotency", "pagination", "rate-limits", "versioning"],
  },
  { key: "features", slugs: ["webhooks", "sandbox", "connectors"] },
  { key: "operate", slugs: ["deploy-supabase"] },
];

const slugPattern = /^[a-z0-9][a-z0-9-]*$/;

export class GuideLibrary {
  private readonly guides = new Map<string, Guide>();

  constructor(directory: string = guidesDirectory) {
    for (const lang of languages) {
      const folder = join(directory, lang);
      if (!existsSync(folder)) continue;
      for (const file of readdirSync(folder).sort()) {
        const slug = file.replace(/\.md$/, "");
        if (!file.endsWith(".md") || !slugPattern.test(slug)) continue;
        const source = readFileSync(join(folder, file), "utf8");
        const rendered = renderMarkdown(source, {
          guideHref: (target, fragment) =>
            `/developers/${lang}/${target === "index" ? "" : target}${fragment}`,
        });
        this.guides.set(`${lang}/${slug}`, {
          ...rendered,
          title: rendered.title || slug,
          slug,
          lang,
          source,
        });
      }
    }
  }

  get(lang: Language, slug: string): Guide | undefined {
    return this.guides.get(`${lang}/${slug}`);
  }

  all(): Guide[] {
    return [...this.guides.values()];
  }

  /** Slugs present in a language, in navigation order. */
  slugs(lang: Language): string[] {
    return this.navigation(lang).flatMap((section) => section.guides.map((guide) => guide.slug));
  }

  navigation(lang: Language): NavSection[] {
    const present = new Set(
      this.all()
        .filter((guide) => guide.lang === lang)
        .map((guide) => guide.slug),
    );
    const listed = new Set(sections.flatMap((section) => section.slugs));
    const result: NavSection[] = [];
    const entry = (slug: string) => ({ slug, title: this.get(lang, slug)!.title });
    for (const section of sections) {
      const guides = section.slugs.filter((slug) => present.has(slug)).map(entry);
      if (guides.length > 0) result.push({ title: ui[lang].sections[section.key], guides });
    }
    const others = [...present].filter((slug) => !listed.has(slug)).sort();
    if (others.length > 0) result.push({ title: ui[lang].sections.more, guides: others.map(entry) });
    return result;
  }
}
